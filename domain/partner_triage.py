"""IT-partner triage (seed 003, "Working with IT Partners"): the rules as data, the decision
as one pure function.

A ticket is from an IT partner when its client carries the partner red flag, or when the
client's department is served by a partner that uses the same ITSM and the notes show the
partner escalated it after level-1 troubleshooting. Such a ticket skips level 1 and goes
straight to the escalation group for its category, bypassing the Service Desk and Desktop
Services unless the ask is one they specialise in (accounts, KACE). It is never sent back
("boomerang") to the partner nor down to those two groups. An end user of a partner's
department who reached the central desk with a desktop-support ask is routed to the
partner's support stream. Every decision carries the rule that made it, in words.

```yaml
partner_triage:
  red_flag_marker: IT Partner
  service_desk_group: Service Desk
  desktop_group: Desktop Services
  reassignment_limit: 3
  triage_lead: {name: Pat Lead, email: pat.lead@example.edu}
  partners:
    - id: met-it
      name: Metropolitan College IT (MET IT)
      group: MET IT
      departments: [Metropolitan College]
      same_itsm: true
      stream: {name: MET IT Help Desk, email: metit@example.edu, phone: "617-555-0100"}
  specialist_asks:
    - {topic: accounts, keywords: [password, account, login], group: Service Desk}
    - {topic: KACE, keywords: [kace], group: Desktop Services}
  escalation_rules:
    - {category: "Network*", group: Network Services}
    - {group: Systems Engineering}          # the last rule matches every category
  leads:
    - {group: Network Services, name: Nia Lead, email: nia.lead@example.edu}
```
"""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from domain.itsm import ItsmName, ServiceDeskTicket

WORKFLOW_TYPE = "PartnerTriage"
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Keyword = Annotated[str, StringConstraints(min_length=2, max_length=100, strip_whitespace=True)]
SEED = "seed 003"


def workflow_id(itsm: str, ticket_id: str) -> str:
    return f"triage-{itsm}-{ticket_id}"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Spec):
    name: Name
    email: EmailStr


class SupportStream(_Spec):
    """Where a partner's own clients get help (the TechWeb list of support streams)."""

    name: Name
    email: EmailStr
    phone: str = ""
    url: str = ""


class ItPartner(_Spec):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
    name: Name
    group: Name  # the partner's assignment group in the ITSM
    departments: list[Name] = Field(min_length=1)
    same_itsm: bool = False  # passes tickets to the central desk inside the same ITSM
    stream: SupportStream


class SpecialistAsk(_Spec):
    """An ask the central desk specialises in, which stays with it even for partners."""

    topic: Name
    keywords: list[Keyword] = Field(min_length=1)
    group: Name


class EscalationRule(_Spec):
    """First match wins; `category` is a shell pattern ("Network*"), absent = any."""

    category: str | None = None
    group: Name


class GroupLead(_Spec):
    group: Name
    name: Name
    email: EmailStr


class PartnerTriageSpec(_Spec):
    """The `partner_triage:` block of the reference data file."""

    red_flag_marker: Name = "IT Partner"
    escalation_phrases: list[Keyword] = Field(
        default_factory=lambda: ["escalat", "level 1", "level-1", "troubleshoot"]
    )
    desktop_keywords: list[Keyword] = Field(
        default_factory=lambda: [
            "desktop",
            "laptop",
            "printer",
            "monitor",
            "reboot",
            "keyboard",
            "mouse",
            "software install",
            "computer",
        ]
    )
    service_desk_group: Name = "Service Desk"
    desktop_group: Name = "Desktop Services"
    reassignment_limit: int = Field(3, ge=1, le=50)
    timezone: Name = "America/Detroit"  # how times read in the leads' emails
    triage_lead: Person
    partners: list[ItPartner] = Field(min_length=1)
    specialist_asks: list[SpecialistAsk] = Field(default_factory=list)
    escalation_rules: list[EscalationRule] = Field(min_length=1)
    leads: list[GroupLead] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> PartnerTriageSpec:
        if self.escalation_rules[-1].category is not None:
            raise ValueError("escalation_rules: the last rule must match every category")
        ids = [p.id for p in self.partners]
        if len(set(ids)) != len(ids):
            raise ValueError("partners: ids must be unique")
        seen: dict[str, str] = {}
        for p in self.partners:
            for d in p.departments:
                if d.casefold() in seen:
                    raise ValueError(f"partners: department {d} is served by {seen[d.casefold()]}")
                seen[d.casefold()] = p.id
        return self

    def partner_of_department(self, department: str) -> ItPartner | None:
        d = department.strip().casefold()
        return next(
            (p for p in self.partners if d and d in {x.casefold() for x in p.departments}), None
        )

    def partner(self, partner_id: str | None) -> ItPartner | None:
        return next((p for p in self.partners if p.id == partner_id), None)

    def lead_of(self, group: str | None) -> Person:
        lead = next((g for g in self.leads if g.group == group), None)
        return Person(name=lead.name, email=lead.email) if lead else self.triage_lead


# ----- the decision --------------------------------------------------------------------------

Outcome = Literal["escalate", "redirect", "level_1"]


class TriageDecision(_Spec):
    """What triage decided and why; `rule` is the sentence written on the ticket."""

    outcome: Outcome
    via: Literal["red_flag", "department", "none"] = "none"
    partner_id: str | None = None
    group: str | None = None  # the assignment group to set, None = leave as routed
    rule_id: str
    rule: str

    @property
    def partner_escalated(self) -> bool:
        return self.outcome == "escalate"


def _text(ticket: ServiceDeskTicket) -> str:
    """The ask: its summary and category. The details are left out on purpose: a partner's
    escalation notes talk about what it tried ("rebooted", "reseated the cable"), which
    says nothing about what the client asks for."""
    return f"{ticket.summary}\n{ticket.category}".casefold()


def _has(text: str, words: list[str]) -> str | None:
    return next((w for w in words if w.casefold() in text), None)


def decide(spec: PartnerTriageSpec, ticket: ServiceDeskTicket, notes: list[str]) -> TriageDecision:
    """Triage one new ticket (seed 003). `notes` are the ticket's notes so far."""
    partner = spec.partner_of_department(ticket.department)
    ask = _text(ticket)
    flagged = spec.red_flag_marker.casefold() in ticket.client_note.casefold()
    escalated_by = None
    if partner is not None and partner.same_itsm and not flagged:
        history = "\n".join(notes).casefold() + "\n" + ticket.details.casefold()
        phrase = _has(history, spec.escalation_phrases)
        if phrase or ticket.team.casefold() == partner.group.casefold():
            escalated_by = phrase or f"assignment group {partner.group}"
    if flagged or escalated_by:
        via: Literal["red_flag", "department"] = "red_flag" if flagged else "department"
        why = (
            f"the client carries the {spec.red_flag_marker} red flag"
            if flagged
            else (
                f"the client's department {ticket.department} is served by {partner.name} "
                f"(same ITSM) and the notes show the partner escalated it ({escalated_by})"
                if partner
                else ""
            )
        )
        for ask_rule in spec.specialist_asks:
            word = _has(ask, ask_rule.keywords)
            if word:
                return TriageDecision(
                    outcome="escalate",
                    via=via,
                    partner_id=partner.id if partner else None,
                    group=ask_rule.group,
                    rule_id=f"specialist:{ask_rule.topic}",
                    rule=(
                        f"From an IT partner: {why}. The ask is about {ask_rule.topic} "
                        f"('{word}'), which {ask_rule.group} specialises in, so it goes to "
                        f"{ask_rule.group} without level-1 triage ({SEED})."
                    ),
                )
        index, rule = next(
            (i, r)
            for i, r in enumerate(spec.escalation_rules)
            if r.category is None or fnmatchcase(ticket.category, r.category)
        )
        return TriageDecision(
            outcome="escalate",
            via=via,
            partner_id=partner.id if partner else None,
            group=rule.group,
            rule_id=f"escalation:{index + 1}",
            rule=(
                f"From an IT partner: {why}. The partner has done level-1 troubleshooting, so "
                f"it skips level 1 and goes straight to {rule.group} by escalation rule "
                f"{index + 1} (category {rule.category or 'any'}; ticket category "
                f"{ticket.category or '-'}), bypassing {spec.service_desk_group} and "
                f"{spec.desktop_group} ({SEED})."
            ),
        )
    if partner is not None:
        word = _has(ask, spec.desktop_keywords)
        if word:
            where = (
                f"assigned to {partner.group}"
                if partner.same_itsm
                else f"sent to {partner.stream.name}"
            )
            return TriageDecision(
                outcome="redirect",
                partner_id=partner.id,
                group=partner.group if partner.same_itsm else None,
                rule_id="misdirected",
                rule=(
                    f"An end user of {ticket.department}, which {partner.name} supports, asked "
                    f"for desktop support ('{word}') at the central desk and no partner "
                    f"escalated it: routed to the partner's support stream {partner.stream.name}"
                    f" ({partner.stream.email}), {where}, and told so by email ({SEED})."
                ),
            )
    return TriageDecision(
        outcome="level_1",
        partner_id=partner.id if partner else None,
        rule_id="not-partner",
        rule=(
            "Not from an IT partner (no red flag"
            + (
                f"; {ticket.department} is served by {partner.name} but no partner escalation "
                "shows in the notes and the ask is not desktop support"
                if partner
                else f"; department {ticket.department or '-'} has no IT partner"
            )
            + f"): level-1 triage as usual ({SEED})."
        ),
    )


def boomerang(
    spec: PartnerTriageSpec, decision: TriageDecision, new_group: str
) -> tuple[str, str] | None:
    """(rule id, sentence) when moving a partner-escalated ticket to `new_group` is a
    boomerang; None when the move is allowed."""
    if not decision.partner_escalated:
        return None
    target = new_group.strip().casefold()
    partner = spec.partner(decision.partner_id)
    if partner is not None and target == partner.group.casefold():
        return (
            "boomerang:partner",
            f"No boomerang: {partner.name} escalated this ticket after its own troubleshooting; "
            f"it is not passed back to {partner.group} ({SEED}).",
        )
    central = {spec.service_desk_group.casefold(), spec.desktop_group.casefold()}
    if target in central and target != (decision.group or "").casefold():
        return (
            "boomerang:central",
            f"No boomerang: a ticket escalated by an IT partner is handled by the IS&T "
            f"escalation group, which works with the partner directly; it is not passed down to "
            f"{new_group} ({SEED}).",
        )
    return None


# ----- the workflow's contract ---------------------------------------------------------------


class TriageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    ticket_id: str


class Reassign(BaseModel):
    """`reassign`: an agent moves the ticket to another group through deskflow."""

    model_config = ConfigDict(extra="forbid")

    group: Name
    by: Name
    reason: Annotated[str, StringConstraints(max_length=2000)] = ""


class TriageRecord(BaseModel):
    """One line of the staff console's "today's triage decisions"."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    ticket_id: str
    summary: str
    department: str
    outcome: Outcome
    group: str | None
    partner_id: str | None
    rule_id: str
    rule: str
    flags: list[str] = Field(default_factory=list)
    reassignments: int = 0


class NotesRequest(BaseModel):
    """`triage_ticket_notes`: the texts of the ticket's notes so far."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    ticket_id: str


class CloseRedirected(BaseModel):
    """`triage_close_redirected`: close a ticket whose partner works in another system."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    key: str
    ticket_id: str
    notes: str


class TriageProjection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    record: TriageRecord
    decided_at: datetime
