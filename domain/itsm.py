"""The ITSM port: one small model of a service-desk ticket and the operations on it.

deskflow runs processes around tickets that live in the organisation's ITSM (HaloPSA or
ServiceNow, DESIGN.md "The ITSM port"). Workflows and rules speak only this model; each
adapter in `activities/` (``itsm_halo``, ``itsm_servicenow``) translates it to and from its
product's JSON. So a rule written for Halo works unchanged on ServiceNow, and the next
processes (provisioning intake, after hours, outages, partner triage) reuse the same port.

Operations (:class:`ItsmPort`): ``get``, ``create``, ``update``, ``add_note`` (a note, with
optional time entry), ``link_to_problem``, ``resolve`` and ``search``. Every write takes an
idempotency ``key``: the adapter marks what it writes with it, so a retry after a timeout
finds the first write instead of making a second ticket or note.

Webhook deliveries and catch-up polls both become :class:`ItsmEvent`: the ticket as the ITSM
shows it now, plus the action that caused the delivery (if any). Workflows order events by
``(ticket.updated_at, action.id)`` and act on each action id once, so a repeated or
out-of-order delivery changes nothing twice; the SLA clock orders the statuses it learns by
the ITSM's own times, so a hold delivered after its release still pauses it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

ItsmName = Literal["halo", "servicenow"]
ITSMS: tuple[ItsmName, ...] = ("halo", "servicenow")

TicketRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
"""A ticket's id in its ITSM, as text (Halo's number, ServiceNow's sys_id or INC number)."""

Short = Annotated[str, StringConstraints(max_length=500)]
Long = Annotated[str, StringConstraints(max_length=20_000)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketKind(StrEnum):
    """Halo's ticket types and ServiceNow's tables, in the service desk's words."""

    incident = "incident"
    service_request = "service_request"
    problem = "problem"


class TicketStatus(StrEnum):
    """The life of a ticket as every ITSM has it (Halo status ids and ServiceNow incident
    states map onto these; `on_hold` is the SLA's pause)."""

    new = "new"
    in_progress = "in_progress"
    on_hold = "on_hold"
    resolved = "resolved"
    closed = "closed"
    cancelled = "cancelled"


FINISHED = frozenset({TicketStatus.resolved, TicketStatus.closed, TicketStatus.cancelled})


class Person(_Model):
    """An end user or agent as the ITSM knows them (email may be missing in the ITSM)."""

    id: Short = ""
    name: Short = ""
    email: Short | None = None


class Note(_Model):
    """A note on the ticket (Halo action, ServiceNow work note or comment)."""

    id: Short = ""
    at: AwareDatetime | None = None
    author: Short = ""
    text: Long = ""
    internal: bool = True


class TimeEntry(_Model):
    """Time spent, in hours (Halo `timetaken`), with its work type (Halo `chargerate`)."""

    hours: Decimal = Field(ge=0, le=1000)
    work_type_id: int | None = None
    work_type: Short = ""


class ServiceDeskTicket(_Model):
    """One service-desk ticket as deskflow sees it, whatever ITSM holds it."""

    itsm: ItsmName
    id: TicketRef
    kind: TicketKind = TicketKind.incident
    summary: Short = ""
    details: Long = ""
    client: Short = ""
    department: Short = ""
    category: Short = ""
    priority: Short = ""
    status: TicketStatus = TicketStatus.new
    status_name: Short = ""
    team: Short = ""
    agent: Short = ""
    user: Person = Field(default_factory=Person)
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    problem_id: TicketRef | None = None
    client_note: Short = ""  # the client's red-flag note (seed 003: IT partners are flagged)
    respond_by: AwareDatetime | None = None
    fix_by: AwareDatetime | None = None
    notes: list[Note] = Field(default_factory=list)
    time_entries: list[TimeEntry] = Field(default_factory=list)
    custom_fields: dict[str, str] = Field(default_factory=dict)


class ActionKind(StrEnum):
    """What happened on the ticket, as the webhook or the poll tells it."""

    created = "created"
    agent_reply = "agent_reply"  # an agent wrote to the end user: the first one meets response
    agent_note = "agent_note"  # an agent's private note: not a response (seed 002)
    user_update = "user_update"  # the end user wrote: technicians are told
    status_change = "status_change"
    priority_change = "priority_change"
    assignment = "assignment"
    closed = "closed"
    other = "other"


class TicketAction(_Model):
    """One action on the ticket; `id` is unique per ticket and increases with time."""

    id: Short
    kind: ActionKind
    at: AwareDatetime
    by: Short = ""
    text: Long = ""
    to_user: bool = False
    time: TimeEntry | None = None  # the action's time entry (Halo timetaken/chargerate)
    new_status: TicketStatus | None = None  # the status this action set (Halo new_status)


class ItsmEvent(_Model):
    """A webhook delivery or a catch-up poll result, normalised for the workflows."""

    itsm: ItsmName
    delivery_id: Short
    ticket: ServiceDeskTicket
    action: TicketAction | None = None
    source: Literal["webhook", "catch_up"] = "webhook"

    @property
    def order(self) -> tuple[datetime, str]:
        """Sort key: the ticket's update time, then the action id (numeric ids sort by length)."""
        aid = self.action.id if self.action else ""
        return (self.ticket.updated_at, f"{len(aid):04d}{aid}")


# ----- port operations' inputs ---------------------------------------------------------------


class NewTicket(_Model):
    """What `create` needs; `key` makes the create idempotent."""

    key: Short
    kind: TicketKind = TicketKind.incident
    summary: Short
    details: Long = ""
    client: Short = ""
    category: Short = ""
    priority: Short = ""
    team: Short = ""
    user: Person = Field(default_factory=Person)


class TicketChange(_Model):
    """Fields to change; None leaves a field as it is. `note` says why (written alongside)."""

    key: Short
    ticket_id: TicketRef
    kind: TicketKind | None = None
    status: TicketStatus | None = None
    priority: Short | None = None
    team: Short | None = None
    agent: Short | None = None
    category: Short | None = None
    category_id: int | None = None  # the ITSM's id of `category` (Halo categoryid_1)
    respond_by: AwareDatetime | None = None
    fix_by: AwareDatetime | None = None
    custom_fields: dict[str, str] = Field(default_factory=dict)
    note: Long = ""


class NewNote(_Model):
    """A note (and optionally a time entry) to add; `key` makes it idempotent."""

    key: Short
    ticket_id: TicketRef
    text: Long
    internal: bool = True
    time: TimeEntry | None = None


class ProblemLink(_Model):
    key: Short
    ticket_id: TicketRef
    problem_id: TicketRef


class Resolution(_Model):
    """Resolving needs a reason (ServiceNow's close_code and close_notes)."""

    key: Short
    ticket_id: TicketRef
    code: Short = "Solved (Permanently)"
    notes: Long


class TicketQuery(_Model):
    """`search`: tickets changed since `changed_since` (catch-up), optionally open only."""

    changed_since: AwareDatetime | None = None
    open_only: bool = False
    limit: int = Field(100, ge=1, le=1000)


class ItsmPort(Protocol):
    """What every ITSM adapter offers; all writes are idempotent by their `key`."""

    name: ItsmName

    async def get(self, ticket_id: str) -> ServiceDeskTicket: ...

    async def create(self, new: NewTicket) -> ServiceDeskTicket: ...

    async def update(self, change: TicketChange) -> ServiceDeskTicket: ...

    async def add_note(self, note: NewNote) -> Note: ...

    async def link_to_problem(self, link: ProblemLink) -> ServiceDeskTicket: ...

    async def resolve(self, resolution: Resolution) -> ServiceDeskTicket: ...

    async def search(self, query: TicketQuery) -> list[ServiceDeskTicket]: ...

    async def actions_since(self, ticket_id: str, after: str | None) -> list[TicketAction]: ...


class ItsmError(Exception):
    """The ITSM refused a call; `status` is its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"ITSM error {status}: {message}")
        self.status = status


class ItsmNotFound(ItsmError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class ItsmRateLimited(ItsmError):
    """429: wait `retry_after_seconds` (the product's Retry-After) before the next call."""

    def __init__(self, retry_after_seconds: float) -> None:
        super().__init__(429, f"rate limited; retry after {retry_after_seconds:.0f}s")
        self.retry_after_seconds = retry_after_seconds


def marker(key: str) -> str:
    """The text an adapter puts in what it writes, so a retry can find it."""
    return f"[deskflow:{key}]"
