"""Response bodies of the JSON API, so `/docs` shows what each route answers.

Each model is built from the projection rows, the `state` query or the operations' results
by a `from_...` constructor next to it; the routes return the model and FastAPI serializes
it. Timestamps built from database rows are ISO 8601 strings, as they always were.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.config_changes import FieldChange, Impact
from domain.refresh import (
    BatchProgress,
    BatchRow,
    BookedSlot,
    ConfigView,
    Delegate,
    DeviceChoice,
    ExistingSystem,
    RefusedRow,
    ShippingAddress,
    TicketState,
)
from operations.tickets import EndedRun, PendingActivity
from store.config_history import Saved
from store.tables import (
    Audit,
    Batch,
    EmailLog,
    Event,
    RefreshConfigVersion,
    ScheduleSlot,
    Ticket,
)

ISO = "ISO 8601 date and time"


# ----- session -------------------------------------------------------------------------------


class SessionToken(BaseModel):
    token: str = Field(description="send as `Authorization: Bearer <token>`; also the cookie")
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds until the session ends on its own")
    csrf_token: str = Field(description="send as `X-CSRF-Token` on unsafe cookie requests")
    username: str
    roles: list[str]


class Me(BaseModel):
    username: str
    name: str
    email: str
    roles: list[str]
    approver_of: list[str] = Field(description="refresh configs naming you as approver")


# ----- tickets -------------------------------------------------------------------------------


class TicketUser(BaseModel):
    uniqname: str
    name: str
    email: str


class TicketRow(BaseModel):
    """A ticket as the projection lists it (updated by the workflow's activities)."""

    ticket_id: str
    status: str
    style: str
    config_id: str
    batch_id: str | None
    support_team: str
    user: TicketUser
    delegate_email: str | None
    existing_serial: str
    replacement_serial: str | None
    tdx_ticket_id: int | None
    day1: str | None = Field(description=ISO)
    updated_at: str | None = Field(description=ISO)

    @classmethod
    def of(cls, row: Ticket) -> TicketRow:
        return cls(
            ticket_id=row.ticket_id,
            status=row.status,
            style=row.style,
            config_id=row.config_id,
            batch_id=row.batch_id,
            support_team=row.support_team,
            user=TicketUser(uniqname=row.user_uniqname, name=row.user_name, email=row.user_email),
            delegate_email=row.delegate_email,
            existing_serial=row.existing_serial,
            replacement_serial=row.replacement_serial,
            tdx_ticket_id=row.tdx_ticket_id,
            day1=row.day1.isoformat() if row.day1 else None,
            updated_at=row.updated_at.isoformat() if row.updated_at else None,
        )


def ticket_rows(rows: list[Ticket]) -> list[TicketRow]:
    return [TicketRow.of(r) for r in rows]


class TicketList(BaseModel):
    total: int = Field(description="tickets matching the filter, beyond this page too")
    tickets: list[TicketRow]


class FailedEmail(BaseModel):
    ticket_id: str | None
    template: str
    to: str
    error: str | None
    at: str = Field(description=ISO)

    @classmethod
    def of(cls, e: EmailLog) -> FailedEmail:
        return cls(
            ticket_id=e.ticket_id,
            template=e.template,
            to=e.to_addr,
            error=e.error,
            at=e.created_at.isoformat(),
        )


class StuckActivity(BaseModel):
    ticket_id: str
    activity: str
    attempt: int
    last_failure: str


class EndedRunOut(BaseModel):
    ticket_id: str
    how: str = Field(description="terminated, failed, timed out or cancelled in Temporal")
    closed: str | None = Field(description=ISO)
    reason: str = Field(description="the terminate's reason or the failure, as given")

    @classmethod
    def of(cls, e: EndedRun) -> EndedRunOut:
        return cls(**(e.__dict__ | {"closed": e.closed and e.closed.isoformat()}))


class Problems(BaseModel):
    tickets: list[TicketRow] = Field(description="tickets waiting on a person")
    failed_emails: list[FailedEmail]
    stuck_activities: list[StuckActivity] = Field(description="activities retrying for long")
    ended_outside: list[EndedRunOut] = Field(
        description="open tickets whose workflow was ended in Temporal, not by deskflow"
    )
    checked_open_tickets: int = Field(
        description="open tickets scanned for stuck activities and ended workflows"
    )
    open_tickets: int

    @classmethod
    def of(cls, data: dict[str, Any]) -> Problems:
        return cls(
            tickets=ticket_rows(data["tickets"]),
            failed_emails=[FailedEmail.of(e) for e in data["failed_emails"]],
            stuck_activities=[
                StuckActivity(
                    ticket_id=p.ticket_id,
                    activity=p.activity,
                    attempt=p.attempt,
                    last_failure=p.last_failure,
                )
                for p in data["stuck"]
            ],
            ended_outside=[EndedRunOut.of(e) for e in data["ended"]],
            checked_open_tickets=data["checked"],
            open_tickets=data["open_total"],
        )


class PendingActivityOut(BaseModel):
    ticket_id: str
    activity: str
    attempt: int
    state: str
    last_failure: str
    scheduled: str | None = Field(description=ISO)

    @classmethod
    def of(cls, p: PendingActivity) -> PendingActivityOut:
        return cls(
            **(p.__dict__ | {"scheduled": p.scheduled and p.scheduled.isoformat()}),
        )


class AuditOut(BaseModel):
    seq: int
    at: str = Field(description=ISO)
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    detail: Any = Field(description="what the step recorded (JSON)")

    @classmethod
    def of(cls, a: Audit) -> AuditOut:
        return cls(
            seq=a.seq,
            at=a.at.isoformat(),
            actor=a.actor,
            action=a.action,
            from_status=a.from_status,
            to_status=a.to_status,
            detail=a.detail,
        )


class EventOut(BaseModel):
    at: str = Field(description=ISO)
    kind: str = Field(description='e.g. "tdx.ticket_created"')
    detail: Any = Field(description="what happened (JSON)")

    @classmethod
    def of(cls, e: Event) -> EventOut:
        return cls(at=e.at.isoformat(), kind=e.kind, detail=e.detail)


class EmailOut(BaseModel):
    template: str
    to: str
    subject: str
    status: str
    error: str | None
    at: str = Field(description=ISO)

    @classmethod
    def of(cls, e: EmailLog) -> EmailOut:
        return cls(
            template=e.template,
            to=e.to_addr,
            subject=e.subject,
            status=e.status,
            error=e.error,
            at=e.created_at.isoformat(),
        )


class TicketLinks(BaseModel):
    tdx: str | None = Field(description="the ticket in TDX")
    temporal_ui: str = Field(description="the workflow in the Temporal Web UI")


class TicketDetail(BaseModel):
    """One ticket: its projection row, the workflow's `state` query and its history."""

    ticket: TicketRow
    state: TicketState = Field(description="the workflow's `state` query")
    pending_activities: list[PendingActivityOut]
    audits: list[AuditOut]
    events: list[EventOut]
    emails: list[EmailOut]
    links: TicketLinks


class Accepted(BaseModel):
    """A signal was sent: the workflow acts on it on its next step."""

    accepted: bool = True


class ChangeRequested(BaseModel):
    tdx_ticket_id: int = Field(description="the TDX ticket of the change request")


class Approvals(BaseModel):
    total: int
    pending_approval: list[TicketRow] = Field(description="waiting for your decision")
    editable: list[TicketRow] = Field(description="you may still edit these")
    tickets: list[TicketRow] = Field(description="every ticket of the configs naming you")


# ----- customers -------------------------------------------------------------------------------


class CustomerUser(BaseModel):
    name: str
    email: str


class NextStepOut(BaseModel):
    headline: str
    detail: str
    when: str | None = Field(description=ISO)
    action: str | None = Field(description='"wizard" or "slots": what the customer may do now')
    reschedule: bool = Field(description="their appointment was taken away: pick again")


class CustomerView(BaseModel):
    """What a customer may see of their ticket (no audits, staff names or TDX internals)."""

    ticket_id: str
    status: str
    style: str
    user: CustomerUser
    delegate: Delegate | None
    existing_system: ExistingSystem
    replacement_model: str | None
    location: str | None
    unit_location: str | None
    shipping_address: ShippingAddress | None
    device: DeviceChoice | None
    peripherals: list[str]
    software: list[str]
    wizard_submitted: bool
    slot: BookedSlot | None
    tracking_number: str | None
    next: NextStepOut


# ----- slots, teams, configs ------------------------------------------------------------------


class SlotOut(BaseModel):
    slot_id: int
    team_id: str
    start: str = Field(description=ISO)
    end: str = Field(description=ISO)
    location: str
    capacity: int
    booked: int
    free: int

    @classmethod
    def fields_of(cls, s: ScheduleSlot) -> dict[str, Any]:
        return {
            "slot_id": s.id,
            "team_id": s.team_id,
            "start": s.start_at.isoformat(),
            "end": s.end_at.isoformat(),
            "location": s.location,
            "capacity": s.capacity,
            "booked": s.booked,
            "free": s.capacity - s.booked,
        }

    @classmethod
    def of(cls, s: ScheduleSlot) -> SlotOut:
        return cls(**cls.fields_of(s))


class TeamSlot(SlotOut):
    tickets: list[str] = Field(description="tickets booked on this slot")

    @classmethod
    def booked_by(cls, s: ScheduleSlot, tickets: list[str]) -> TeamSlot:
        return cls(**cls.fields_of(s), tickets=tickets)


class TeamOut(BaseModel):
    id: str
    name: str
    default_location: str
    ics: str = Field(description="the team's calendar feed (its key is in the URL)")


class ConfigSummary(BaseModel):
    id: str
    name: str
    org: str
    default_style: str
    requires_approval: bool


class ConfigDetail(ConfigView):
    default_style: str
    support_team: str | None


# ----- batches and bulk actions -----------------------------------------------------------------


class BatchSummary(BaseModel):
    batch_id: str
    config_id: str
    created_by: str
    created_at: str = Field(description=ISO)
    source_name: str = Field(description="e.g. the uploaded CSV's file name")
    rows: int

    @classmethod
    def of(cls, b: Batch) -> BatchSummary:
        return cls(
            batch_id=b.id,
            config_id=b.config_id,
            created_by=b.created_by,
            created_at=b.created_at.isoformat(),
            source_name=b.source_name,
            rows=b.row_count,
        )


class BatchPreviewResult(BaseModel):
    rows: list[BatchRow] = Field(description="the systems the file lists")
    refused: list[RefusedRow] = Field(description="lines that cannot become a ticket, and why")


class BatchStarted(BaseModel):
    batch_id: str
    workflow_id: str
    progress: str = Field(description="where to follow it: GET this path")


class BatchStatus(BaseModel):
    batch_id: str
    config_id: str
    progress: BatchProgress


class BulkRow(BaseModel):
    """One ticket of a bulk action: done, or refused and why (CSV rows also give `line`)."""

    model_config = ConfigDict(extra="allow")

    ticket_id: str | None
    ok: bool
    detail: str


class BulkResult(BaseModel):
    done: list[str] = Field(description="tickets the action was applied to")
    refused: list[BulkRow]
    results: list[BulkRow] = Field(description="every row, in the order given")


# ----- refresh config editing (issue 17) -------------------------------------------------------


class ConfigEdit(BaseModel):
    """An edit: the version the editor started from (a newer one refuses the save), and the
    whole config as in a reference data file (its id comes from the path)."""

    model_config = ConfigDict(extra="forbid")

    edited_version: int = Field(ge=0)
    config: dict[str, Any]


class ConfigSaved(BaseModel):
    id: str
    version: int
    created: bool
    changes: list[FieldChange]

    @classmethod
    def of(cls, saved: Saved) -> ConfigSaved:
        return cls(
            id=saved.config_id, version=saved.version, created=saved.created, changes=saved.changes
        )


class ConfigImpact(BaseModel):
    changes: list[FieldChange]
    impact: list[Impact]


class ConfigVersionEntry(BaseModel):
    version: int
    saved_at: str = Field(description=ISO)
    saved_by: str
    source: str
    changes: list[FieldChange]

    @classmethod
    def of(cls, row: RefreshConfigVersion) -> ConfigVersionEntry:
        return cls(
            version=row.version,
            saved_at=row.saved_at.isoformat(),
            saved_by=row.saved_by,
            source=row.source,
            changes=[FieldChange.model_validate(c) for c in row.changes],
        )


class SingleTicketCreated(BaseModel):
    ticket_id: str
    batch_id: str
    started: bool = Field(description="false: TDX is busy, follow the batch to see the result")
    ticket: str
    batch: str
