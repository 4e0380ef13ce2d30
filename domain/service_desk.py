"""The service desk's reference data (`service_desk:` in `deskflow load`) and its rules.

Seed 002 asks for teams that new tickets are routed to, technicians told of updates, SLAs
per priority in working hours, and emails in the end user's language. All of that is data
here, read by workflows as one frozen value (:class:`ServiceDesk`), and the rules over it are
pure functions: `route` (which team), `targets_for` (the SLA of a priority), `language_of`.

```yaml
service_desk:
  calendar: {timezone: Europe/Paris, business_hours: {start: "08:00", end: "18:00"},
             country_holidays: FR, closed_days: []}     # omit: the main calendar
  warn_at_percent: [50, 75, 90]
  halo_hold_status_ids: [4]
  clients: [{id: "12", name: Contoso, language: fr, sla_policy: standard}]
  teams: [{id: support, name: Support, itsm_team: Support, slack_channel: "#support",
           technicians: [{name: Ana, email: ana@example.org}]}]
  sla_policies: [{id: standard, priorities: {"1": {response: 1h, resolution: 4h}}}]
  routing_rules: [{kind: incident, category: Hardware, team: support}, {team: support}]
```
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, model_validator

from domain.business_calendar import BusinessCalendar
from domain.itsm import ServiceDeskTicket, TicketKind
from domain.sla import Targets, working_day_length

Language = Literal["en", "fr"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d)\s*$")


def _duration(value: object) -> object:
    """Read "30m", "4h" or "2d" (d = working days); refuse anything else with the format."""
    if isinstance(value, str) and _DURATION.match(value):
        return value
    raise ValueError(f"{value!r} is not a duration; write e.g. 30m, 4h or 2d (working days)")


Duration = Annotated[str, BeforeValidator(_duration)]
HHMM = Annotated[str, Field(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$")]


def working_duration(text: str, cal: BusinessCalendar) -> timedelta:
    """A duration in working time; a day is one working day of `cal`."""
    m = _DURATION.match(text)
    assert m is not None, text
    n, unit = float(m.group(1)), m.group(2)
    if unit == "m":
        return timedelta(minutes=n)
    if unit == "h":
        return timedelta(hours=n)
    return working_day_length(cal) * n


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Technician(_Spec):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: EmailStr


class DeskTeam(_Spec):
    """A service-desk team: its name in the ITSM, its Slack channel, its technicians."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    itsm_team: Annotated[str, Field(min_length=1, max_length=200)]
    slack_channel: Annotated[str, Field(pattern=r"^#?[a-z0-9][a-z0-9_-]{0,79}$")]
    technicians: list[Technician] = Field(default_factory=list)


class PriorityTarget(_Spec):
    response: Duration
    resolution: Duration


class SlaPolicy(_Spec):
    """Response and resolution targets per ITSM priority id (Halo `priority_id`, SN
    `priority`), counted in working time."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
    priorities: dict[str, PriorityTarget] = Field(min_length=1)


class DeskClient(_Spec):
    """A client (Halo client / ServiceNow company or department) and its language."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    language: Language = "en"
    sla_policy: str | None = None


class RoutingRule(_Spec):
    """First matching rule wins; an absent field matches anything. `category` may use
    shell wildcards ("Hardware*")."""

    kind: TicketKind | None = None
    category: str | None = None
    client: str | None = None
    team: str


class CalendarBlock(_Spec):
    timezone: str = "America/Detroit"
    business_hours: dict[Literal["start", "end"], HHMM] = Field(
        default_factory=lambda: {"start": "08:00", "end": "17:00"}
    )
    country_holidays: str | None = None
    closed_days: list[date] = Field(default_factory=list)


class ServiceDeskSpec(_Spec):
    """The `service_desk:` block of a reference data file."""

    calendar: CalendarBlock | None = None
    warn_at_percent: list[Annotated[int, Field(gt=0, lt=100)]] = Field(
        default_factory=lambda: [50, 75, 90]
    )
    halo_hold_status_ids: list[int] = Field(default_factory=lambda: [4])
    default_sla_policy: str | None = None
    clients: list[DeskClient] = Field(default_factory=list)
    teams: list[DeskTeam] = Field(min_length=1)
    sla_policies: list[SlaPolicy] = Field(min_length=1)
    routing_rules: list[RoutingRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _names_resolve(self) -> ServiceDeskSpec:
        """Every rule names a known team, every client a known policy; one catch-all rule."""
        teams = {t.id for t in self.teams}
        policies = {p.id for p in self.sla_policies}
        for i, rule in enumerate(self.routing_rules):
            if rule.team not in teams:
                raise ValueError(f"routing_rules[{i}].team: unknown team {rule.team!r}")
        for i, client in enumerate(self.clients):
            if client.sla_policy is not None and client.sla_policy not in policies:
                raise ValueError(f"clients[{i}].sla_policy: unknown policy {client.sla_policy!r}")
        if self.default_sla_policy is not None and self.default_sla_policy not in policies:
            raise ValueError(f"default_sla_policy: unknown policy {self.default_sla_policy!r}")
        last = self.routing_rules[-1]
        if (last.kind, last.category, last.client) != (None, None, None):
            raise ValueError("routing_rules: the last rule must match everything (only a team)")
        return self


class ServiceDesk(_Spec):
    """What workflows read: the spec plus the calendar with its holidays resolved."""

    spec: ServiceDeskSpec
    calendar: BusinessCalendar

    def team(self, team_id: str) -> DeskTeam | None:
        return next((t for t in self.spec.teams if t.id == team_id), None)

    def team_by_itsm_name(self, name: str) -> DeskTeam | None:
        return next((t for t in self.spec.teams if t.itsm_team == name), None)

    def client(self, client: str) -> DeskClient | None:
        return next((c for c in self.spec.clients if client in (c.id, c.name)), None)


def route(desk: ServiceDesk, ticket: ServiceDeskTicket) -> tuple[DeskTeam, int]:
    """The team of a new ticket and the index of the rule that chose it (for the note)."""
    for i, rule in enumerate(desk.spec.routing_rules):
        if rule.kind is not None and rule.kind != ticket.kind:
            continue
        if rule.category is not None and not fnmatchcase(ticket.category, rule.category):
            continue
        if rule.client is not None and rule.client != ticket.client:
            client = desk.client(ticket.client)
            if client is None or rule.client not in (client.id, client.name):
                continue
        team = desk.team(rule.team)
        assert team is not None  # checked on load
        return team, i
    raise AssertionError("unreachable: the last rule matches everything")


def language_of(desk: ServiceDesk, ticket: ServiceDeskTicket) -> Language:
    client = desk.client(ticket.client)
    return client.language if client else "en"


def targets_for(desk: ServiceDesk, ticket: ServiceDeskTicket) -> Targets | None:
    """The ticket's targets by its client's policy and its priority; None if it has none."""
    client = desk.client(ticket.client)
    policy_id = (client.sla_policy if client else None) or desk.spec.default_sla_policy
    policy = next((p for p in desk.spec.sla_policies if p.id == policy_id), None)
    if policy is None:
        policy = desk.spec.sla_policies[0]
    target = policy.priorities.get(ticket.priority)
    if target is None:
        return None
    return Targets(
        response=working_duration(target.response, desk.calendar),
        resolution=working_duration(target.resolution, desk.calendar),
    )
