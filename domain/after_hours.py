"""After hours for contract partners (seed 004, first part): reference data, the call, the rules.

When the Contract Partner Support (CPS) desk is closed and the General Help Desk is open, a
help-desk agent takes a contract partner's call. The seed's rules, as pure functions:

* HD-solvable (e.g. a NetID password reset) or a personal computer: a normal help-desk case,
  nothing else (`decide` → ``help_desk_case``).
* Otherwise an incident with the minimum required information and the HDQA notes, service
  "DoIT Departmental Support / Service Inquiry / Unclassified", assigned to the EAST queue
  (the "Assign to EAST" one-step), and the customer given the incident number, CPS hours and
  CPS phone (`customer_words`, the same sentences in the email and on the agent's screen).
* Critical work stoppage that cannot wait until the next business day: the on-call
  technician of the partner's schedule (AIMS or GDS) is paged with the case number, the
  customer's name and phone and a brief description, and the customer is told a technician
  will call back within an hour. For partners that are not former AIMS, criticality is the
  agent's judgement, which the form records (`emergency_judgement`).

This module holds the `after_hours:` block of the reference data, the intake (the workflow's
start input), the case state the `state` query returns, and the checks with the field they
name. The paging order and the desk's hours come from `domain.on_call`.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, model_validator

from domain.itsm import NewTicket
from domain.on_call import (
    DeskHours,
    PersonId,
    Schedule,
    desk_open,
    escalation_chain,
    next_opening,
    wall_time,
)

WORKFLOW_TYPE = "AfterHoursEscalation"
SERVICE = "DoIT Departmental Support / Service Inquiry / Unclassified"
CASE_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
Text = Annotated[str, Field(min_length=1, max_length=200)]
CaseId = Annotated[str, Field(pattern=CASE_ID)]


def workflow_id(case_id: str) -> str:
    return f"after-hours-{case_id}"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartnerKind(StrEnum):
    """How the seed sorts contract partners: former AIMS (AIMS link under the cone) or legacy
    DS (the GDS on-call sheet)."""

    aims = "aims"
    legacy_ds = "legacy_ds"


class Responder(_Spec):
    """Someone who can be paged: an on-call technician or a help-desk lead. `routing_key` is
    the 32-character Events API v2 integration key of their PagerDuty service."""

    id: PersonId
    name: Text
    email: EmailStr
    phone: Annotated[str, Field(pattern=r"^[0-9+() .-]{7,30}$")]
    routing_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{32}$")]


class ContractPartner(_Spec):
    id: PersonId
    name: Text
    kind: PartnerKind
    schedule: PersonId


class Leadership(_Spec):
    """Help-desk leadership: paged after the last technician, told of a missed promise."""

    people: list[PersonId] = Field(min_length=1)
    slack_channel: Annotated[str, Field(pattern=r"^#?[a-z0-9][a-z0-9_-]{0,79}$")]


class AfterHoursSpec(_Spec):
    """The `after_hours:` block of a reference data file."""

    timezone: str | None = None  # None: the deployment's DESKFLOW_TIMEZONE
    country_holidays: str | None = "US"
    closed_days: list[date] = Field(default_factory=list)
    cps_hours: DeskHours = Field(default_factory=DeskHours)
    cps_phone: Text = "608-265-6900"
    east_queue: Text = "EAST"
    help_desk_team: Text = "Help Desk"
    ack_timeout_minutes: int = Field(10, ge=1, le=120)
    technicians_paged: int = Field(2, ge=1, le=10)  # people from the schedule before leadership
    callback_minutes: int = Field(60, ge=5, le=24 * 60)
    responders: list[Responder] = Field(min_length=1)
    leadership: Leadership
    schedules: list[Schedule] = Field(min_length=1)
    partners: list[ContractPartner] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_resolve(self) -> AfterHoursSpec:
        people = [r.id for r in self.responders]
        if len(set(people)) != len(people):
            raise ValueError("responders: each id once")
        known, schedules = set(people), {s.id for s in self.schedules}
        for i, s in enumerate(self.schedules):
            for who in sorted(s.people() - known):
                raise ValueError(f"schedules[{i}]: {who!r} is not among the responders")
        for who in self.leadership.people:
            if who not in known:
                raise ValueError(f"leadership.people: {who!r} is not among the responders")
        for i, p in enumerate(self.partners):
            if p.schedule not in schedules:
                raise ValueError(f"partners[{i}].schedule: unknown schedule {p.schedule!r}")
        if len({p.id for p in self.partners}) != len(self.partners):
            raise ValueError("partners: each id once")
        return self


class AfterHoursDesk(_Spec):
    """What the workflow reads: the spec, the zone, the closed dates resolved, the ITSM."""

    spec: AfterHoursSpec
    timezone: str
    closed: frozenset[date] = frozenset()
    itsm: Literal["halo", "servicenow"] = "halo"

    def partner(self, partner_id: str) -> ContractPartner | None:
        return next((p for p in self.spec.partners if p.id == partner_id), None)

    def schedule(self, schedule_id: str) -> Schedule:
        return next(s for s in self.spec.schedules if s.id == schedule_id)

    def responder(self, person: str) -> Responder | None:
        return next((r for r in self.spec.responders if r.id == person), None)

    def cps_open(self, moment: datetime) -> bool:
        return desk_open(self.spec.cps_hours, moment, self.timezone, self.closed)

    def cps_opens(self, moment: datetime) -> datetime:
        return next_opening(self.spec.cps_hours, moment, self.timezone, self.closed)


# ----- the call ------------------------------------------------------------------------------


class Caller(_Spec):
    name: Text
    phone: Annotated[str, Field(pattern=r"^[0-9+() .xX-]{7,30}$")]
    email: EmailStr


class Agent(_Spec):
    """The help-desk agent who took the call (alerted if the callback promise is missed)."""

    name: Text
    email: EmailStr


class Intake(_Spec):
    """The agent's intake form: the start input of `AfterHoursEscalation`."""

    case_id: CaseId
    partner: PersonId
    caller: Caller
    description: Annotated[str, Field(min_length=10, max_length=5000)]
    hd_solvable: bool
    personal_computer: bool
    critical: bool = False
    emergency_judgement: Annotated[str, Field(max_length=2000)] = ""
    agent: Agent


Decision = Literal["help_desk_case", "incident", "page"]


def intake_problems(desk: AfterHoursDesk, intake: Intake, now: datetime) -> list[tuple[str, str]]:
    """What is wrong with a call as (field, message); empty when it may go ahead."""
    problems: list[tuple[str, str]] = []
    partner = desk.partner(intake.partner)
    if partner is None:
        problems.append(("partner", f"{intake.partner!r} is not a contract partner"))
    if desk.cps_open(now):
        problems.append(
            (
                "when",
                "CPS is open now (Monday–Friday 7am–6pm): transfer the caller to CPS at "
                f"{desk.spec.cps_phone}; this is not an after-hours call",
            )
        )
    routine = intake.hd_solvable or intake.personal_computer
    if (
        partner is not None
        and partner.kind != PartnerKind.aims
        and intake.critical
        and not routine
        and not intake.emergency_judgement.strip()
    ):
        problems.append(
            (
                "emergency_judgement",
                f"{partner.name} is not a former AIMS partner: say why this cannot wait "
                "until the next business day",
            )
        )
    return problems


def decide(intake: Intake) -> Decision:
    if intake.hd_solvable or intake.personal_computer:
        return "help_desk_case"
    return "page" if intake.critical else "incident"


def local_text(moment: datetime, tz: str) -> str:
    return wall_time(moment, tz).strftime("%A %B %-d, %Y at %-I:%M %p")


def customer_words(desk: AfterHoursDesk, incident: str, critical: bool) -> list[str]:
    """What the customer is told, by email and by the agent reading it out (seed 004)."""
    phone = desk.spec.cps_phone
    words = [
        f"Your incident number is {incident}.",
        "Contract Partner Support is open Monday - Friday, 7am - 6pm.",
        f"You can reach Contract Partner Support at {phone}.",
    ]
    if critical:
        minutes = desk.spec.callback_minutes
        within = "an hour" if minutes == 60 else f"{minutes} minutes"
        words.append(f"A technician will contact you within {within}.")
    else:
        words.append("Contract Partner Support will follow up on the next business day.")
    return words


def incident_details(desk: AfterHoursDesk, intake: Intake, now: datetime) -> str:
    """The incident's description: the minimum required information, then the HDQA notes."""
    partner = desk.partner(intake.partner)
    assert partner is not None
    critical = decide(intake) == "page"
    urgent = (
        "Urgent: critical work stoppage that cannot wait until the next business day"
        if critical
        else "Can wait until HDL2 / CPS is open"
    )
    expectation = " ".join(customer_words(desk, "(this incident)", critical))
    kind = "former AIMS" if partner.kind == PartnerKind.aims else "legacy DS"
    lines = [
        f"Description: {intake.description}",
        f"Customer: {intake.caller.name}, phone {intake.caller.phone}, {intake.caller.email}",
        f"Contract partner: {partner.name} ({kind})",
        f"Urgency: {urgent}",
        f"Expectation given to the customer: {expectation}",
        "",
        "HDQA Notes",
        f"Service: {SERVICE}",
        f"After-hours call taken by {intake.agent.name} on {local_text(now, desk.timezone)} "
        "while CPS was closed; escalated with the Assign to EAST one-step.",
    ]
    if intake.emergency_judgement.strip():
        lines.append(f"Agent's emergency judgement: {intake.emergency_judgement.strip()}")
    lines.append(f"deskflow case: {intake.case_id}")
    return "\n".join(lines)


def page_summary(intake: Intake, incident: str) -> str:
    """The page: case number, customer name and phone, brief description (seed 004)."""
    brief = " ".join(intake.description.split())[:300]
    return (f"After-hours case {incident}: {intake.caller.name} {intake.caller.phone} — {brief}")[
        :1024
    ]


def paging_order(desk: AfterHoursDesk, partner: ContractPartner, now: datetime) -> list[str]:
    """Technicians to page in turn (schedule order at `now`)."""
    return escalation_chain(
        desk.schedule(partner.schedule),
        now,
        desk.timezone,
        desk.closed,
        desk.spec.technicians_paged,
    )


# ----- the case as the workflow keeps it ----------------------------------------------------


class CaseStatus(StrEnum):
    opening = "opening"  # the call is being taken: reference data, checks, the ticket
    refused = "refused"
    help_desk_case = "help_desk_case"
    incident = "incident"  # EAST queue, customer told; not critical
    paging = "paging"
    leadership = "leadership"  # every technician missed; leadership paged
    acknowledged = "acknowledged"
    contacted = "contacted"
    resolved = "resolved"
    unanswered = "unanswered"  # nobody acknowledged before the case was given up


class Promise(StrEnum):
    none = "none"
    pending = "pending"
    kept = "kept"
    missed = "missed"


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: int
    person: str
    name: str
    role: Literal["on_call", "next", "leadership"]
    paged_at: AwareDatetime
    outcome: Literal["ringing", "acknowledged", "voicemail", "stood_down"] = "ringing"
    outcome_at: AwareDatetime | None = None


class SentEmail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str
    to: str
    at: AwareDatetime


class CaseState(BaseModel):
    """The `state` query: everything the leads' page shows about one call."""

    model_config = ConfigDict(extra="forbid")

    case_id: str
    partner: str
    partner_name: str = ""
    partner_kind: PartnerKind | None = None
    caller: Caller
    agent: Agent
    description: str
    decision: Decision | None = None
    emergency_judgement: str = ""
    status: CaseStatus = CaseStatus.opening
    refusal: list[tuple[str, str]] = Field(default_factory=list)
    opened_at: AwareDatetime
    itsm: str = ""
    incident: str | None = None
    team: str = ""
    read_out: list[str] = Field(default_factory=list)
    order: list[str] = Field(default_factory=list)
    pages: list[Page] = Field(default_factory=list)
    acknowledged_by: str | None = None
    acknowledged_at: AwareDatetime | None = None
    promise: Promise = Promise.none
    promise_due: AwareDatetime | None = None
    contacted_by: str | None = None
    contacted_at: AwareDatetime | None = None
    alerts: list[str] = Field(default_factory=list)
    emails: list[SentEmail] = Field(default_factory=list)
    resolved_at: AwareDatetime | None = None
    next_wakeup: AwareDatetime | None = None
    log: list[str] = Field(default_factory=list)
    revision: int = 0  # grows with every projection, so a late write never wins

    def paged(self) -> set[str]:
        return {p.person for p in self.pages}


class Acknowledge(BaseModel):
    """Update `acknowledge`: a paged person takes the case (paging stops)."""

    model_config = ConfigDict(extra="forbid")

    by: PersonId


class TechnicianContacted(BaseModel):
    """Update `technician_contacted`: the technician reached the customer."""

    model_config = ConfigDict(extra="forbid")

    by: PersonId
    note: Annotated[str, Field(max_length=2000)] = ""


class Resolve(BaseModel):
    """Update `resolve`: the after-hours part is over (pages resolved, note on the incident)."""

    model_config = ConfigDict(extra="forbid")

    by: Text
    note: Annotated[str, Field(max_length=2000)] = ""


UPDATES: dict[str, type[BaseModel]] = {
    "acknowledge": Acknowledge,
    "technician_contacted": TechnicianContacted,
    "resolve": Resolve,
}

FINISHED = frozenset(
    {CaseStatus.refused, CaseStatus.help_desk_case, CaseStatus.incident, CaseStatus.resolved}
)


def acknowledge_problem(s: CaseState, by: str) -> str | None:
    """Why `by` may not acknowledge now, or None (a repeat by the acknowledger is fine)."""
    if s.decision != "page":
        return "this case paged no one: there is nothing to acknowledge"
    if s.status == CaseStatus.resolved:
        return "the case is resolved"
    if s.acknowledged_by is not None and s.acknowledged_by != by:
        return f"already acknowledged by {s.acknowledged_by}"
    if by not in s.paged():
        paged = ", ".join(sorted(s.paged())) or "no one yet"
        return f"{by!r} was not paged for this case (paged: {paged})"
    return None


def contacted_problem(s: CaseState, by: str) -> str | None:
    if s.decision != "page":
        return "no callback was promised on this case"
    if s.status == CaseStatus.resolved:
        return "the case is resolved"
    if s.contacted_at is not None and s.contacted_by != by:
        return f"already recorded: {s.contacted_by} reached the customer"
    return None


def promise_due(made_at: datetime, desk: AfterHoursDesk) -> datetime:
    return made_at + timedelta(minutes=desk.spec.callback_minutes)


# ----- activity requests ---------------------------------------------------------------------


class LoadAfterHours(BaseModel):
    """`after_hours_load`: the reference block with closed dates for `years`."""

    model_config = ConfigDict(extra="forbid")

    years: list[int]


class OpenTicket(BaseModel):
    """`after_hours_open_ticket`: the port's idempotent `create` on the named ITSM."""

    model_config = ConfigDict(extra="forbid")

    itsm: Literal["halo", "servicenow"]
    ticket: NewTicket
