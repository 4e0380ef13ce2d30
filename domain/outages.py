"""Outages (seed 004, "Creating an Incident (Outages)"): the contract and the rules.

HDQA reports a potential outage from one or more incidents; the planned outages of that
service are checked first (reference data, `outages:` below) and when one is in progress the
incidents are linked to it. Otherwise SNCC confirms the outage, a problem is created in the
ITSM owned by SNCC-Sysops or SNCC-Network, and the incidents are linked to it. Agents link
new incidents as calls come in; level 1 never resolves a linked incident nor escalates it to
HDQA. SNCC resolves: every incident still linked is resolved and each customer emailed once.

```yaml
outages:
  owner_teams: [SNCC-Sysops, SNCC-Network]
  hdqa_team: HDQA
  planned:
    - {id: mail-upgrade, service: Email, title: "Exchange upgrade",
       starts: "2026-12-05T22:00:00-05:00", ends: "2026-12-06T04:00:00-05:00",
       owner_team: SNCC-Sysops}
```
Everything here is pure: the workflow, the web pages and the CLI share it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.itsm import ItsmName, TicketRef

WORKFLOW_TYPE = "Outage"
OutageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Text = Annotated[str, StringConstraints(max_length=2000)]
MAX_INCIDENTS_PER_REPORT = 500


def workflow_id(outage_id: str) -> str:
    return f"outage-{outage_id}"


def outage_key(outage_id: str) -> str:
    """What emails and projections are logged under (X-Deskflow-Ticket)."""
    return f"outage-{outage_id}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ----- reference data ---------------------------------------------------------------------


class PlannedOutage(_Model):
    """A planned outage of a service; `problem_id` when the ITSM already tracks it."""

    id: OutageId
    service: Name
    title: Name
    starts: AwareDatetime
    ends: AwareDatetime
    owner_team: Name
    problem_id: TicketRef | None = None

    @model_validator(mode="after")
    def _window(self) -> PlannedOutage:
        if self.ends <= self.starts:
            raise ValueError("ends must be after starts")
        return self


class OutagesSpec(_Model):
    """The `outages:` block of the reference data file."""

    owner_teams: list[Name] = Field(
        default_factory=lambda: ["SNCC-Sysops", "SNCC-Network"], min_length=1
    )
    hdqa_team: Name = "HDQA"
    planned: list[PlannedOutage] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> OutagesSpec:
        ids = [p.id for p in self.planned]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"planned: duplicate id {dup[0]}")
        return self


def planned_for(spec: OutagesSpec, service: str) -> list[PlannedOutage]:
    """The planned outages of a service (case-insensitive), soonest first."""
    wanted = service.strip().casefold()
    return sorted(
        (p for p in spec.planned if p.service.casefold() == wanted), key=lambda p: p.starts
    )


def matching_planned(spec: OutagesSpec, service: str, at: datetime) -> PlannedOutage | None:
    """The planned outage of the service in progress at `at` (the window includes its
    start and excludes its end), or None."""
    return next((p for p in planned_for(spec, service) if p.starts <= at < p.ends), None)


# ----- the workflow's contract ------------------------------------------------------------


class OutageStatus(StrEnum):
    reported = "reported"  # HDQA reported a potential outage; SNCC has not confirmed yet
    confirmed = "confirmed"  # SNCC confirmed: the problem exists (or is being created)
    planned = "planned"  # the incidents belong to a planned outage in progress
    resolving = "resolving"  # SNCC resolved: the linked incidents are being resolved
    resolved = "resolved"
    dismissed = "dismissed"  # SNCC said it is not an outage


OPEN = frozenset({OutageStatus.reported, OutageStatus.confirmed, OutageStatus.planned})
PUBLIC = frozenset({OutageStatus.confirmed, OutageStatus.planned, OutageStatus.resolving})
Role = Literal["level_1", "hdqa", "sncc"]


class ReportPotential(_Model):
    """HDQA: a potential outage of `service`, from the incidents received."""

    service: Name
    summary: Name
    incidents: list[TicketRef] = Field(min_length=1, max_length=MAX_INCIDENTS_PER_REPORT)
    reported_by: Name


class Confirm(_Model):
    """SNCC confirms; the problem is owned by `owner_team` (SNCC-Sysops or SNCC-Network)."""

    owner_team: Name
    confirmed_by: Name
    public_note: Text = ""


class Dismiss(_Model):
    dismissed_by: Name
    reason: Name


class LinkIncident(_Model):
    """Any agent: this incident is another call about the outage."""

    ticket_id: TicketRef
    by: Name


class UnlinkIncident(_Model):
    ticket_id: TicketRef
    by: Name
    reason: Name


class Resolve(_Model):
    """SNCC, "Resolve Attached Incidents"; `follow_up_team` when the problem needs more."""

    resolved_by: Name
    notes: Name
    follow_up_team: Name | None = None


class AssignFollowUp(_Model):
    team: Name
    by: Name


class IncidentAction(_Model):
    """An agent asks deskflow to resolve a linked incident or escalate it to HDQA."""

    ticket_id: TicketRef
    action: Literal["resolve", "escalate_to_hdqa"]
    role: Role
    by: Name


class LinkedIncident(_Model):
    ticket_id: TicketRef
    linked_by: str
    linked_at: AwareDatetime
    in_itsm: bool = False  # linked to the problem in the ITSM
    resolved: bool = False
    emailed_to: str | None = None
    skipped: str | None = None  # why resolution left it alone (unlinked in the ITSM, ...)


class OutageState(BaseModel):
    """The `state` query: the outage as HDQA, SNCC and the pages see it."""

    model_config = ConfigDict(extra="forbid")

    outage_id: str
    itsm: ItsmName
    status: OutageStatus = OutageStatus.reported
    service: str = ""
    summary: str = ""
    reported_by: str = ""
    reported_at: AwareDatetime | None = None
    planned_outages: list[PlannedOutage] = Field(default_factory=list)
    planned_match: PlannedOutage | None = None
    owner_team: str = ""
    confirmed_by: str = ""
    confirmed_at: AwareDatetime | None = None
    public_note: str = ""
    problem_id: str | None = None
    incidents: dict[str, LinkedIncident] = Field(default_factory=dict)
    unlinked: list[str] = Field(default_factory=list)
    resolved_by: str = ""
    resolved_at: AwareDatetime | None = None
    resolution_notes: str = ""
    follow_up_team: str | None = None
    follow_up_assigned: bool = False
    log: list[str] = Field(default_factory=list)

    @property
    def linked(self) -> list[str]:
        return sorted(self.incidents)

    def counts(self) -> dict[str, int]:
        done = [i for i in self.incidents.values() if i.resolved]
        return {
            "linked": len(self.incidents),
            "resolved": len(done),
            "emailed": sum(1 for i in done if i.emailed_to),
            "skipped": sum(1 for i in self.incidents.values() if i.skipped),
        }


class OutageInput(_Model):
    """Start input (update-with-start: whoever comes first starts it); `resume` carries the
    state across continue-as-new."""

    outage_id: OutageId
    itsm: ItsmName
    resume: OutageState | None = None


UPDATES: dict[str, type[BaseModel]] = {
    "report_potential": ReportPotential,
    "confirm": Confirm,
    "dismiss": Dismiss,
    "link_incident": LinkIncident,
    "unlink_incident": UnlinkIncident,
    "resolve": Resolve,
    "assign_follow_up": AssignFollowUp,
    "incident_action": IncidentAction,
}


# ----- rules the validators apply ------------------------------------------------------------


class Refused(ValueError):
    """A request the process forbids; the message names the rule."""


LEVEL_ONE_RULE = (
    "seed 004 step 9: level 1 saves an incident linked to an outage and leaves it; it is "
    "neither resolved nor escalated to HDQA (SNCC resolves every linked incident together)"
)


def check_report(s: OutageState, msg: ReportPotential) -> None:
    if s.status not in OPEN:
        raise Refused(f"status: the outage is {s.status.value}; report a new one")
    if s.service and s.service.casefold() != msg.service.casefold():
        raise Refused(f"service: this outage is about {s.service}, not {msg.service}")


def check_confirm(s: OutageState, msg: Confirm, spec: OutagesSpec) -> None:
    if msg.owner_team not in spec.owner_teams:
        raise Refused(f"owner_team: the problem is owned by one of {', '.join(spec.owner_teams)}")
    if s.status != OutageStatus.reported:
        raise Refused(f"status: only a reported outage is confirmed (it is {s.status.value})")
    if not s.service:
        raise Refused("status: HDQA has not reported this outage yet (report_potential first)")


def check_link(s: OutageState) -> None:
    if s.status not in OPEN:
        raise Refused(f"status: the outage is {s.status.value}; incidents are no longer linked")


def check_unlink(s: OutageState, msg: UnlinkIncident) -> None:
    if s.status not in OPEN:
        raise Refused(f"status: the outage is {s.status.value}; its incidents stay as they are")
    if msg.ticket_id not in s.incidents:
        raise Refused(f"ticket_id: {msg.ticket_id} is not linked to this outage")


def check_resolve(s: OutageState) -> None:
    if s.status not in (OutageStatus.confirmed, OutageStatus.planned):
        raise Refused(f"status: only a confirmed outage is resolved (it is {s.status.value})")


def check_follow_up(s: OutageState) -> None:
    if s.problem_id is None:
        raise Refused("status: the outage has no problem in the ITSM yet")


def check_incident_action(s: OutageState, msg: IncidentAction) -> None:
    linked = msg.ticket_id in s.incidents and s.status in OPEN
    if linked and msg.role == "level_1":
        raise Refused(f"role: {LEVEL_ONE_RULE}")
    if msg.ticket_id not in s.incidents:
        raise Refused(f"ticket_id: {msg.ticket_id} is not linked to this outage")
    if s.status not in OPEN:
        raise Refused(f"status: the outage is {s.status.value}")


def resolution_note(s: OutageState, notes: str) -> str:
    """What is written on each incident when the outage resolves it."""
    return (
        f"Resolved with outage {s.outage_id} ({s.service}: {s.summary}), problem "
        f"{s.problem_id or '-'}, by {s.resolved_by or 'SNCC'} (Resolve Attached Incidents). "
        f"{notes}"
    )


# ----- activity requests ---------------------------------------------------------------------


class ProblemRequest(_Model):
    """`outage_create_problem`: the outage's problem in the ITSM, owned by `team`."""

    itsm: ItsmName
    key: str
    summary: str
    details: str
    team: str


class LinkRequest(_Model):
    """`outage_link_incidents`: link these incidents to the problem (each idempotent)."""

    itsm: ItsmName
    outage_id: str
    problem_id: str
    ticket_ids: list[str]


class ResolveRequest(_Model):
    """`outage_resolve_incident`: resolve one incident if still linked; email its customer."""

    itsm: ItsmName
    outage_id: str
    problem_id: str
    ticket_id: str
    notes: str
    service: str
    summary: str
    email: bool = True


class OutageProjection(_Model):
    """`project_outage`: the outage's row for the pages (small: counts, not the incidents)."""

    outage_id: str
    itsm: ItsmName
    status: OutageStatus
    service: str
    summary: str
    public_note: str
    problem_id: str | None
    owner_team: str
    planned_id: str | None
    linked: int
    resolved: int
    reported_at: AwareDatetime | None
    confirmed_at: AwareDatetime | None
    resolved_at: AwareDatetime | None

    @classmethod
    def of(cls, s: OutageState) -> OutageProjection:
        counts = s.counts()
        return cls(
            outage_id=s.outage_id,
            itsm=s.itsm,
            status=s.status,
            service=s.service[:200],
            summary=s.summary[:200],
            public_note=s.public_note,
            problem_id=s.problem_id,
            owner_team=s.owner_team,
            planned_id=s.planned_match.id if s.planned_match else None,
            linked=counts["linked"],
            resolved=counts["resolved"],
            reported_at=s.reported_at,
            confirmed_at=s.confirmed_at,
            resolved_at=s.resolved_at,
        )


class ResolveResult(_Model):
    ticket_id: str
    resolved: bool
    emailed_to: str | None = None
    skipped: str | None = None
