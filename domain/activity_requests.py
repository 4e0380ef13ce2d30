"""Inputs and outputs of the activities: one typed model per call, shared with workflows.

Workflows call activities by name with these models, so the sandbox never imports the
activity modules (and their HTTP/SMTP/SQL libraries). Every request that causes a side
effect carries an idempotency `key` made by the workflow from the ticket and the purpose.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from domain.refresh import (
    BookedSlot,
    Delegate,
    DeviceChoice,
    ExistingSystem,
    Person,
    ReplacementSystem,
    ShippingAddress,
    Style,
    TdxRefs,
    TicketState,
)


class Req(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoadTicketContext(Req):
    config_id: str
    team_id: str


class TdxTicketRequest(Req):
    key: str
    ticket_id: str
    kind: Literal["refresh", "changed_location", "change_request"]
    title: str
    description: str
    requestor_email: str | None = None
    serial: str | None = None


class TdxTicketCreated(Req):
    tdx_ticket_id: int
    url: str
    created: bool


class TdxTaskRequest(Req):
    ticket_id: str
    tdx_ticket_id: int
    kind: Literal["prestage", "build", "deliver"]
    title: str


class TdxCompleteTask(Req):
    key: str
    ticket_id: str
    tdx_ticket_id: int
    task_id: int
    comment: str


class TdxScheduleDay1(Req):
    key: str
    ticket_id: str
    tdx_ticket_id: int
    task_ids: dict[str, int]
    start: datetime
    end: datetime
    location: str


class TdxFeed(Req):
    key: str
    ticket_id: str
    tdx_ticket_id: int
    comment: str
    cancel: bool = False


class AssetLookup(Req):
    ticket_id: str
    serial: str


class AssetFound(Req):
    asset_id: int
    serial: str
    name: str = ""


class DeliveryCheck(Req):
    ticket_id: str
    tdx_ticket_id: int
    deliver_task_id: int | None
    installed_known: bool


class EmailTicket(BaseModel):
    """The part of a ticket its emails (templates, calendar file, recipient) read.

    An email's input is kept in the ticket's history: the whole state (audits, options,
    offers) was 92-96 % of it. Built from a `TicketState` by attribute; extra fields are
    ignored, so an email scheduled with the whole ticket before this model still reads.
    """

    model_config = ConfigDict(extra="ignore", from_attributes=True)

    ticket_id: str
    style: Style
    user: Person
    delegate: Delegate | None = None
    existing_system: ExistingSystem
    replacement_system: ReplacementSystem | None = None
    location: str | None = None
    unit_location: str | None = None
    shipping_address: ShippingAddress | None = None
    slot: BookedSlot | None = None
    schedule_version: int = 0
    tracking_number: str | None = None
    tdx: TdxRefs = TdxRefs()
    device: DeviceChoice | None = None  # the customer's choice, beside the replacement sent
    replacement_exchanged: bool = False

    @property
    def recipient(self) -> str:
        """A delegate receives every customer email instead of the user."""
        return str(self.delegate.email if self.delegate else self.user.email)

    @property
    def recipient_name(self) -> str:
        return self.delegate.name if self.delegate else self.user.name


class EmailRequest(Req):
    key: str
    ticket_id: str
    template: str
    audience: Literal["customer", "mac_engineering", "approver", "team"] = "customer"
    to: str | None = None
    ticket: EmailTicket | None = None
    extra: dict[str, Any] = {}


class EmailResult(Req):
    to: str
    sent_at: datetime
    message_id: str
    already_sent: bool


class SlackRequest(Req):
    key: str
    ticket_id: str
    channel: str
    text: str


class BookSlotRequest(Req):
    ticket_id: str
    team_id: str
    slot_id: int
    now: datetime


class ReleaseSlotRequest(Req):
    ticket_id: str
    reason: str


class RecordEvent(Req):
    key: str
    ticket_id: str
    kind: str
    at: datetime
    detail: dict[str, Any] = {}


class ProjectTicket(Req):
    """The ticket's row as of `state`; `state.audits` holds the audits not written yet
    (older runs sent them all: the activity skips those it has)."""

    state: TicketState


__all__ = ["BookedSlot"]
