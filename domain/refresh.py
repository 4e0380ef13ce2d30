"""The RefreshTicket contract: start input, messages, state and the names on the wire.

Every model forbids unknown fields, so a typo in a CLI `--json` or an API call is an error
rather than a silently ignored field. Models are shared by the workflow (inside the
sandbox), the activities, the web app and the CLI: one place for the contract.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from domain.business_calendar import BusinessCalendar
from domain.text_rules import HeaderText

WORKFLOW_TYPE = "RefreshTicket"
TICKET_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def workflow_id(ticket_id: str) -> str:
    """Workflow id of a ticket: one workflow per ticket, so a second start is refused."""
    return f"refresh-{ticket_id}"


class Status(StrEnum):
    """Ticket statuses in lifecycle order, then the two that can happen at any time."""

    pending_invite = "pending_invite"
    pending_wizard = "pending_wizard"
    pending_location_info = "pending_location_info"
    pending_approval = "pending_approval"
    pending_ordering = "pending_ordering"
    pending_itsm_existence = "pending_itsm_existence"
    pending_slot_discovery = "pending_slot_discovery"
    pending_customer_scheduling = "pending_customer_scheduling"
    delivery_scheduled = "delivery_scheduled"
    pending_delivery = "pending_delivery"
    installed = "installed"
    complete = "complete"
    on_hold = "on_hold"
    cancelled = "cancelled"


class Deadline(StrEnum):
    """The ticket's named timers, kept as absolute instants in `TicketState.deadlines`."""

    invite = "invite"
    wizard_reminder_1 = "wizard_reminder_1"
    wizard_reminder_2 = "wizard_reminder_2"
    location_info = "location_info"
    appointment_reminder = "appointment_reminder"


# Status sets, each defined once (in lifecycle order, so messages list them in that order).
TERMINAL = frozenset({Status.complete, Status.cancelled})
# Approvers and admins edit the ticket up to (not including) pending_ordering.
EDITABLE = frozenset(
    {
        Status.pending_invite,
        Status.pending_wizard,
        Status.pending_location_info,
        Status.pending_approval,
    }
)
# Problems focus: tickets a person has to look at.
PROBLEM_STATUSES = frozenset({Status.pending_itsm_existence, Status.pending_location_info})
# A customer picks (or picks again) a slot; staff may ask them to pick again.
SLOT_PICKING = (Status.pending_customer_scheduling, Status.delivery_scheduled)
# Staff may assign a slot directly.
RESCHEDULABLE = (Status.pending_slot_discovery, *SLOT_PICKING)

Style = Literal["on_prem", "remote", "unit_location", "no_customer"]
Platform = Literal["windows", "mac"]


# Every string a message carries has a length limit: a megabyte "actor" must be refused at the
# door, not stored in the audits (where it would make every later update too large to send).
Actor = Annotated[str, Field(min_length=1, max_length=200, description="who asks")]
Item = Annotated[str, Field(max_length=200)]
Key = Annotated[str, Field(min_length=1, max_length=64)]
MAX_ITEMS = 100
MAX_SLOT_OFFERS = 1000


class Strict(BaseModel):
    """Base of every message: unknown fields are refused, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Person(Strict):
    uniqname: HeaderText = Field(min_length=1, max_length=64)
    name: HeaderText = Field(min_length=1, max_length=200)
    email: EmailStr


class Delegate(Strict):
    name: HeaderText = Field(min_length=1, max_length=200)
    email: EmailStr


class ExistingSystem(Strict):
    serial: HeaderText = Field(min_length=1, max_length=64)
    platform: Platform
    model: HeaderText = Field(min_length=1, max_length=200)
    location: str = Field(default="", max_length=300)


class ReplacementSystem(Strict):
    # The serial is in the mac_mdm_request subject: single-line (domain.text_rules).
    serial: HeaderText = Field(min_length=1, max_length=64)
    platform: Platform
    model: HeaderText = Field(min_length=1, max_length=200)
    tracking_number: HeaderText | None = Field(default=None, max_length=64)


US_STATES = frozenset(
    [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "PR",
        "GU",
        "VI",
        "AS",
        "MP",
    ]
)


class ShippingAddress(Strict):
    """A US shipping address: carriers refuse anything less, so we check it here."""

    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=3, max_length=200)
    line2: str = Field(default="", max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field(max_length=40)
    postal_code: str = Field(max_length=10)
    phone: str = Field(default="", max_length=40)

    @field_validator("state")
    @classmethod
    def _state(cls, v: str) -> str:
        v = v.upper()
        if v not in US_STATES:
            raise ValueError(f"'{v}' is not a US state or territory code (e.g. MI)")
        return v

    @field_validator("postal_code")
    @classmethod
    def _zip(cls, v: str) -> str:
        if not re.fullmatch(r"\d{5}(-\d{4})?", v):
            raise ValueError("ZIP code must be 5 digits or ZIP+4 (48109 or 48109-1234)")
        return v


class DeviceChoice(Strict):
    """What the customer wants: the proposed model, another approved one, or 'none fits'."""

    model: str = Field(min_length=1, max_length=200)
    platform: Platform
    none_adequate: bool = False
    comment: str = Field(default="", max_length=2000)


class RefreshTicketInput(Strict):
    ticket_id: str = Field(pattern=TICKET_ID_PATTERN)
    config_id: Key
    style: Style
    bump_down: bool = False
    user: Person
    delegate: Delegate | None = None
    existing_system: ExistingSystem
    replacement_system: ReplacementSystem | None = None
    support_team: Key
    batch_id: str | None = Field(default=None, max_length=64)
    # Extensions (not in the original contract): carried state across continue-as-new,
    # and a history length at which to continue-as-new even if Temporal has not suggested it.
    resume: TicketState | None = None
    history_limit: int | None = Field(default=None, ge=50)


# ----- messages ---------------------------------------------------------------------------


class WizardSubmission(Strict):
    """The customer's answers; which parts are required depends on style and options."""

    location: str | None = Field(default=None, max_length=300)
    shipping_address: ShippingAddress | None = None
    device: DeviceChoice | None = None
    peripherals: list[Item] | None = Field(default=None, max_length=MAX_ITEMS)
    software: list[Item] = Field(default_factory=list, max_length=MAX_ITEMS)
    actor: Actor = "customer"


class ProvideLocation(Strict):
    actor: Actor
    location: str | None = Field(default=None, max_length=300)
    shipping_address: ShippingAddress | None = None


class Approve(Strict):
    approver: Actor = Field(description="uniqname or email of an approver")
    comment: str = Field(default="", max_length=2000)


class Reject(Strict):
    approver: Actor
    comment: str = Field(min_length=1, max_length=2000)


class TicketEdit(Strict):
    """Approver or admin edits before ordering; only the fields given change."""

    actor: Actor
    role: Literal["approver", "refresh_admin"]
    delegate: Delegate | None = None
    remove_delegate: bool = False
    location: str | None = Field(default=None, max_length=300)
    shipping_address: ShippingAddress | None = None
    device: DeviceChoice | None = None
    peripherals: list[Item] | None = Field(default=None, max_length=MAX_ITEMS)
    software: list[Item] | None = Field(default=None, max_length=MAX_ITEMS)


class ChangeRequest(Strict):
    approver: Actor
    description: str = Field(min_length=5, max_length=4000)


class PickSlot(Strict):
    slot_id: int = Field(gt=0)
    actor: Actor = "customer"


class Reschedule(Strict):
    slot_id: int = Field(gt=0)
    actor: Actor
    reason: str = Field(default="", max_length=2000)


class Hold(Strict):
    actor: Actor
    reason: str = Field(default="", max_length=2000)


class Release(Strict):
    actor: Actor


class Cancel(Strict):
    actor: Actor
    reason: str = Field(min_length=1, max_length=2000)


class SendInviteNow(Strict):
    """Staff: a ticket waiting for its invite gets it now (a customer who asks for the link
    again, a VIP, the demo), instead of at the next business morning's 10:05."""

    actor: Actor
    reason: str = Field(default="", max_length=2000)


class AssignReplacement(Strict):
    replacement: ReplacementSystem
    group: str | None = Field(default=None, max_length=100)
    actor: Actor = "order-group"


class ExchangeReplacement(Strict):
    replacement: ReplacementSystem
    actor: Actor
    reason: str = Field(default="", max_length=2000)


class SlotOffer(Strict):
    slot_id: int
    start: datetime
    end: datetime
    location: str = Field(max_length=300)
    free: int


class SlotsAvailable(Strict):
    slots: list[SlotOffer] = Field(default_factory=list, max_length=MAX_SLOT_OFFERS)


class SetTracking(Strict):
    tracking_number: HeaderText = Field(min_length=3, max_length=64)
    carrier: HeaderText = Field(default="", max_length=40)
    actor: Actor = "order-group"


class TriggerCustomerReschedule(Strict):
    actor: Actor
    reason: str = Field(default="", max_length=2000)


UPDATES: dict[str, type[Strict]] = {
    "submit_wizard": WizardSubmission,
    "provide_location": ProvideLocation,
    "approve": Approve,
    "reject": Reject,
    "edit": TicketEdit,
    "request_change": ChangeRequest,
    "pick_slot": PickSlot,
    "reschedule": Reschedule,
    "hold": Hold,
    "release": Release,
    "cancel": Cancel,
    "send_invite_now": SendInviteNow,
}


class ConfigChanged(Strict):
    """A Refresh Administrator saved the ticket's config: reload it from the next step on."""

    config_id: Key
    version: int = Field(ge=1)
    actor: Actor = "config-editor"


SIGNALS: dict[str, type[Strict]] = {
    "assign_replacement": AssignReplacement,
    "exchange_replacement": ExchangeReplacement,
    "slots_available": SlotsAvailable,
    "set_tracking": SetTracking,
    "trigger_customer_reschedule": TriggerCustomerReschedule,
    "config_changed": ConfigChanged,
}


# ----- reference data the workflow needs (loaded once by an activity) ----------------------


class Approver(Strict):
    uniqname: str
    name: str = ""
    email: str = ""


class ApprovedModel(Strict):
    org: str
    platform: Platform
    model: str


class RefreshOptions(Strict):
    can_customize_computer: bool = False
    can_customize_platform: bool = False
    can_request_different_device: bool = False
    can_customize_peripherals: bool = False
    can_customize_software: bool = False


class ConfigView(Strict):
    """What the ticket needs to know of its Refresh Config, fixed at start (or continue-as-new)."""

    id: str
    name: str
    org: str
    requires_approval: bool
    approvers: list[Approver]
    options: RefreshOptions
    approved_models: list[ApprovedModel]
    proposed_models: dict[str, str] = Field(default_factory=dict)
    peripheral_bundle: list[str] = Field(default_factory=list)
    peripheral_catalog: list[str] = Field(default_factory=list)
    software_catalog: list[str] = Field(default_factory=list)
    unit_location: str | None = None
    prestage_group: str | None = None
    # The config's saved version (store.config_history) this view was read at; 0 before
    # versions were kept. Defaulted so histories recorded without it replay unchanged.
    version: int = 0

    def is_approver(self, who: str) -> bool:
        who = who.lower()
        return any(who in (a.uniqname.lower(), a.email.lower()) for a in self.approvers)


class TeamView(Strict):
    id: str
    name: str
    slack_channel: str
    default_location: str = ""


class TicketContext(Strict):
    config: ConfigView
    team: TeamView
    calendar: BusinessCalendar


# ----- state (the `state` query) -----------------------------------------------------------


class AuditEntry(Strict):
    seq: int
    at: datetime
    actor: str
    action: str
    from_status: str | None = None
    to_status: str | None = None
    detail: str = ""


class EmailSent(Strict):
    template: str
    to: str
    at: datetime
    key: str


class BookedSlot(Strict):
    slot_id: int
    start: datetime
    end: datetime
    location: str


class TdxRefs(Strict):
    ticket_id: int | None = None
    tasks: dict[str, int] = Field(default_factory=dict)
    url: str | None = None


class TicketState(Strict):
    ticket_id: str
    config_id: str
    style: Style
    bump_down: bool
    status: Status
    held_from: Status | None = None
    hold_started: datetime | None = None
    support_team: str
    batch_id: str | None = None
    user: Person
    delegate: Delegate | None = None
    existing_system: ExistingSystem
    replacement_system: ReplacementSystem | None = None
    replacement_group: str | None = None
    # The order group assigned the replacement (or it came with a bump-down ticket).
    replacement_assigned: bool = False
    options: RefreshOptions | None = None
    requires_approval: bool | None = None
    location: str | None = None
    unit_location: str | None = None
    shipping_address: ShippingAddress | None = None
    device: DeviceChoice | None = None
    peripherals: list[str] = Field(default_factory=list)
    software: list[str] = Field(default_factory=list)
    wizard_submitted: bool = False  # by the customer
    location_known: bool = False  # from the wizard, or from staff (provide_location)
    approved_by: str | None = None
    slot: BookedSlot | None = None
    slot_offers: list[SlotOffer] = Field(default_factory=list)
    # Staff took the booked slot back (trigger_customer_reschedule): the customer picks again.
    pick_again: bool = False
    tracking_number: str | None = None
    tracking_emailed: str | None = None
    tdx: TdxRefs = Field(default_factory=TdxRefs)
    created_at: datetime
    invited_at: datetime | None = None
    deadlines: dict[Deadline, datetime] = Field(default_factory=dict)
    next_wakeup: datetime | None = None
    schedule_version: int = 0
    confirmed_version: int = 0
    installed_at: datetime | None = None
    completed_at: datetime | None = None
    cancel_reason: str | None = None
    change_requests: int = 0
    audits: list[AuditEntry] = Field(default_factory=list)
    emails: list[EmailSent] = Field(default_factory=list)
    setup_done: bool = False
    # One more per projection write: the app database keeps the highest it saw, so a late
    # write of an older state never overwrites a newer one.
    revision: int = 0

    @computed_field
    @property
    def day1(self) -> datetime | None:
        """The appointment: the booked slot's start."""
        return self.slot.start if self.slot else None

    @property
    def replacement_exchanged(self) -> bool:
        """The replacement was exchanged (the customer page and emails explain the change)."""
        return any(a.action == "replacement exchanged" for a in self.audits)

    @computed_field
    @property
    def invite_at(self) -> datetime | None:
        """When the invite goes out (until it has; then see `invited_at`)."""
        return self.deadlines.get(Deadline.invite)

    @model_validator(mode="before")
    @classmethod
    def _from_json(cls, data: Any) -> Any:
        """Read the state back from JSON (query answers, activity inputs, continue-as-new):
        `day1` and `invite_at` are derived, not read. A state written before the facts below
        were fields (a running ticket's continue-as-new input) recovers them, once, from the
        audit trail, where the older workflow kept them."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if k not in ("day1", "invite_at")}
        if "location_known" not in data:
            data["location_known"] = bool(data.get("wizard_submitted"))
        if "replacement_assigned" not in data:
            audits = [a if isinstance(a, dict) else a.model_dump() for a in data.get("audits", [])]
            actions = [a.get("action", "") for a in audits]
            details = [a.get("detail", "") for a in audits]
            assigned = bool(data.get("bump_down")) or "replacement assigned" in actions
            data["replacement_assigned"] = assigned
            data["change_requests"] = actions.count("change requested")
            data["pick_again"] = _picks_again(actions, details)
        return data

    @property
    def recipient(self) -> str:
        """A delegate receives every customer email instead of the user."""
        return str(self.delegate.email if self.delegate else self.user.email)

    @property
    def recipient_name(self) -> str:
        return self.delegate.name if self.delegate else self.user.name


def _picks_again(actions: list[str], details: list[str]) -> bool:
    """Whether the last scheduling change in an older audit trail took the slot back."""
    for action, detail in zip(reversed(actions), reversed(details), strict=True):
        if action == "slot picked" or action.startswith("rescheduled by staff"):
            return False
        if action == "status" and (detail or "").startswith("reschedule"):
            return True
    return False


RefreshTicketInput.model_rebuild()


# ----- batches (seed: "Refresh Ticket Batches") ---------------------------------------------

BATCH_WORKFLOW_TYPE = "RefreshBatch"


def batch_workflow_id(batch_id: str) -> str:
    return f"batch-{batch_id}"


def batch_ticket_id(config_id: str, serial: str) -> str:
    """One ticket per system per config: re-running a batch finds the same ids."""
    return f"{config_id}.{serial.upper()}"


class UpdateAck(BaseModel):
    """What an accepted update answers: which ticket, and its status now.

    Small on purpose (the web app shows a page of its own, from the `state` query, after
    the redirect). Its fields are a subset of `TicketState`'s, so a full state also reads
    as an acknowledgement.
    """

    model_config = ConfigDict(extra="ignore")

    ticket_id: str
    status: Status


class BatchRow(Strict):
    line: int
    serial: str = Field(min_length=1, max_length=64)
    style: Style | None = None
    delegate: Delegate | None = None
    replacement_system: ReplacementSystem | None = None


class RefusedRow(Strict):
    line: int
    serial: str
    reason: str


class RefreshBatchInput(Strict):
    """A batch launch. The file's lines are stored in the database (`lines` of them) and read
    in pages, so the input stays small however long the file; launches from before paging
    carry `rows` and `refused` inline instead."""

    batch_id: str = Field(pattern=TICKET_ID_PATTERN)
    launch_id: str = Field(min_length=1, description="one per launch: tells our starts apart")
    config_id: str
    default_style: Style
    rows: list[BatchRow] = Field(default_factory=list)
    refused: list[RefusedRow] = Field(default_factory=list)
    lines: int | None = Field(None, ge=0, description="lines stored for the batch; None: inline")
    progress: BatchProgress | None = None  # carried over continue-as-new


class BatchPageRequest(Strict):
    batch_id: str
    after_line: int = Field(ge=0)
    limit: int = Field(gt=0, le=1000)


class BatchPage(Strict):
    """The stored lines after `after_line`, in file order: good rows and refused lines."""

    rows: list[BatchRow]
    refused: list[RefusedRow]
    last_line: int  # the cursor for the next page


class BatchProgress(Strict):
    batch_id: str
    total: int
    looked_up: int = 0
    processed: int = 0
    started: list[str] = Field(default_factory=list)
    already_running: list[str] = Field(default_factory=list)
    refused: list[RefusedRow] = Field(default_factory=list)
    next_row: int = 0
    next_line: int = 0  # paged launches: the last stored line already taken
    done: bool = False


SYSTEM_LOOKUP_WORKFLOW_TYPE = "LookupSystem"


class SystemLookup(Strict):
    """What TDX knows of an existing system: the ticket's user, team and location."""

    serial: str
    user: Person | None
    support_team: str | None
    platform: Platform
    model: str
    location: str


class StartTicket(Strict):
    ticket: RefreshTicketInput
    started_by: str


class StartResult(Strict):
    ticket_id: str
    started: bool


RefreshBatchInput.model_rebuild()
