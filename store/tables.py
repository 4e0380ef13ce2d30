"""SQLAlchemy models of the app database: reference data, schedule slots and ticket projection.

The workflow is the source of truth for a ticket's lifecycle; these tables hold the reference
data the workflows read (calendar, teams, configs, staff), the schedule slots they book, and a
projection of each ticket written by idempotent activities so web pages can list and filter
without querying Temporal. Everything here must behave the same on SQLite (local dev) and
PostgreSQL (production), hence only portable types: `sqlalchemy.JSON` and UTC timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names so Alembic migrations name (and can later drop) them the same
# way on every backend, instead of relying on each database's generated names.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always goes in and comes out as UTC.

    SQLite has no timezone type and drops tzinfo, while PostgreSQL returns values in the
    session's zone; normalising to UTC on both sides keeps comparisons (`start_at > :now`)
    and round trips identical on both backends. Naive datetimes are refused because their
    meaning depends on the machine that made them.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(UTC)
        # SQLite stores text and compares it as text: store it naive so every row has the
        # same format and string order equals time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """Current time in UTC, the default for creation/update timestamps."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the shared metadata (and its naming convention)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- reference data -------------------------------------------------------------------------


class CalendarConfig(Base):
    """The business calendar: one row (id=1) so every worker reads the same hours and days."""

    __tablename__ = "calendar_config"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    timezone: Mapped[str] = mapped_column(String(64))
    business_start: Mapped[str] = mapped_column(String(5))  # "HH:MM"
    business_end: Mapped[str] = mapped_column(String(5))  # "HH:MM"
    country_holidays: Mapped[str | None] = mapped_column(String(8))  # e.g. "US"
    closed_days: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates, sorted


class SupportTeam(Base):
    """A NIT support team: owns schedule slots and gets Slack messages for its tickets."""

    __tablename__ = "support_team"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. "nit-central"
    name: Mapped[str] = mapped_column(String(200))
    slack_channel: Mapped[str] = mapped_column(String(100))
    default_location: Mapped[str] = mapped_column(String(500))

    slot_preferences: Mapped[list[SlotPreference]] = relationship(
        back_populates="team",
        cascade="all, delete-orphan",
        order_by=lambda: [SlotPreference.weekday, SlotPreference.start],
    )


class SlotPreference(Base):
    """A weekly template the nightly generator turns into concrete schedule slots."""

    __tablename__ = "slot_preference"
    __table_args__ = (
        UniqueConstraint("team_id", "weekday", "start"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("length_minutes > 0", name="positive_length"),
        CheckConstraint("capacity > 0", name="positive_capacity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(
        ForeignKey("support_team.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(Integer)  # 0=Monday .. 6=Sunday, as date.weekday()
    start: Mapped[str] = mapped_column(String(5))  # "HH:MM" local time of the calendar zone
    length_minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(String(500))

    team: Mapped[SupportTeam] = relationship(back_populates="slot_preferences")


class RefreshConfig(Base):
    """The parameters every refresh ticket of a campaign follows (seed 001 "Refresh Config").

    List/dict shaped settings are JSON because they are always read and replaced whole and
    never queried by their parts.
    """

    __tablename__ = "refresh_config"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    org: Mapped[str] = mapped_column(String(200))
    default_style: Mapped[str] = mapped_column(String(32))  # on_prem|remote|unit_location|...
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"uniqname", "name", "email"}]
    approvers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # {"can_customize_computer": bool, "can_customize_platform": bool,
    #  "can_request_different_device": bool, "can_customize_peripherals": bool,
    #  "can_customize_software": bool}
    options: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    # [{"org", "platform": "windows"|"mac", "model"}]
    approved_models: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    proposed_models: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # {windows, mac}
    peripheral_bundle: Mapped[list[str]] = mapped_column(JSON, default=list)
    peripheral_catalog: Mapped[list[str]] = mapped_column(JSON, default=list)
    software_catalog: Mapped[list[str]] = mapped_column(JSON, default=list)
    unit_location: Mapped[str | None] = mapped_column(String(500))
    prestage_group: Mapped[str | None] = mapped_column(String(200))
    # The team that serves this campaign's tickets when TDX names none (and, for unit-location
    # campaigns, the team staffing that location).
    support_team: Mapped[str | None] = mapped_column(
        ForeignKey("support_team.id", ondelete="SET NULL")
    )

    team: Mapped[SupportTeam | None] = relationship()


class StaffUser(Base):
    """A staff login for the web app; passwords are only ever stored as scrypt hashes."""

    __tablename__ = "staff_user"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    # subset of "refresh_admin", "refresh_manager", "slot_admin", "approver"
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(255))
    # A disabled account cannot sign in, and its sessions are refused at once.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class StaffSession(Base):
    """A signed-in staff session (cookie or bearer token), revocable on the server.

    The token carries a random id; only its SHA-256 is stored, so a copy of this table
    signs nobody in. Signing out revokes one row; a new password or a disabled account
    revokes every row of the user (store.staff_sessions).
    """

    __tablename__ = "staff_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- schedule slots -------------------------------------------------------------------------


class ScheduleSlot(Base):
    """A concrete day-1 appointment window of a team; `booked` is kept by store.slots.

    The CHECK constraints are a last line of defence behind the conditional UPDATE in
    `store.slots.book_slot`: the database itself refuses a slot over capacity.
    """

    __tablename__ = "schedule_slot"
    __table_args__ = (
        UniqueConstraint("team_id", "start_at"),
        CheckConstraint("booked >= 0", name="booked_not_negative"),
        CheckConstraint("booked <= capacity", name="booked_within_capacity"),
        Index("ix_schedule_slot_start_at", "start_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("support_team.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str] = mapped_column(String(500))
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by: Mapped[str | None] = mapped_column(String(64))

    # Also tells the unit of work to insert teams before their slots in one flush.
    team: Mapped[SupportTeam] = relationship()


class SlotBooking(Base):
    """One ticket's hold on a slot; released rows are kept as the booking history.

    The partial unique index allows at most one active (unreleased) booking per ticket, so
    even two racing calls for the same ticket cannot both hold a place.
    """

    __tablename__ = "slot_booking"
    __table_args__ = (
        Index(
            "uq_slot_booking_active_ticket",
            "ticket_id",
            unique=True,
            sqlite_where="released_at IS NULL",
            postgresql_where="released_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("schedule_slot.id"), index=True)
    ticket_id: Mapped[str] = mapped_column(String(64), index=True)
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_reason: Mapped[str | None] = mapped_column(String(200))

    slot: Mapped[ScheduleSlot] = relationship()


# --- ticket projection ----------------------------------------------------------------------
# No foreign keys below: projection rows are written by activities in whatever order Temporal
# runs them, and must never fail because a sibling row has not been written yet.


class Ticket(Base):
    """Projection of a RefreshTicket workflow, for lists, filters and the Problems view.

    The columns are the fields pages filter on; `state` is the workflow's `state` at the
    last write, without its audits (rows of their own in `audit`). Its `revision` orders
    the writes: an older one arriving late is not applied.
    """

    __tablename__ = "ticket"

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    config_id: Mapped[str] = mapped_column(String(64), index=True)
    batch_id: Mapped[str | None] = mapped_column(String(64), index=True)
    style: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(40), index=True)
    support_team: Mapped[str] = mapped_column(String(64), index=True)
    user_uniqname: Mapped[str] = mapped_column(String(64))
    user_email: Mapped[str] = mapped_column(String(320))
    user_name: Mapped[str] = mapped_column(String(200))
    delegate_email: Mapped[str | None] = mapped_column(String(320))
    existing_serial: Mapped[str] = mapped_column(String(100))
    replacement_serial: Mapped[str | None] = mapped_column(String(100))
    tdx_ticket_id: Mapped[int | None] = mapped_column(Integer)
    day1: Mapped[datetime | None] = mapped_column(UTCDateTime)
    slot_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Audit(Base):
    """A lifecycle change of a ticket; `seq` orders them and makes re-writes idempotent."""

    __tablename__ = "audit"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Event(Base):
    """A change made to TDX or another outside system; `key` is the idempotency key."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(100))  # e.g. "tdx.ticket_created"
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TdxCreateIntent(Base):
    """A TDX create that was sent and whose outcome is unknown yet (issue 8, point 8).

    Written just before the POST and removed once TDX has clearly refused it. While a row is
    younger than TDX's longest processing time, a retry must not create again: the first
    request may still land.
    """

    __tablename__ = "tdx_create_intent"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(64), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SlackPostIntent(Base):
    """A Slack post that was sent and whose outcome is unknown yet (issue 8).

    Written just before `chat.postMessage` and removed once the message's `ts` is recorded or
    Slack clearly refused the post. A retry that finds a row looks for the message in the
    channel's history from `sent_at` on before posting again, and does not post again while
    Slack may still carry the earlier post out.
    """

    __tablename__ = "slack_post_intent"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(64), index=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TdxRateWindow(Base):
    """Every worker's shared count of one TDX method's current rate window (issue 8, point 9).

    TDX counts each method's calls per calling address in a fixed window that starts at the
    window's first call; workers that reach TDX from one address share that count, so they
    share this row (see `store.tdx_windows`). One row per method: a past window is of no use.
    `ends_at` is epoch seconds; `limit` is what TDX's headers last said (NULL: not known yet);
    `pending` counts the window's calls not answered yet; `window_no` numbers the windows.
    """

    __tablename__ = "tdx_rate_window"

    method: Mapped[str] = mapped_column(String(200), primary_key=True)
    limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    used: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)
    window_no: Mapped[int] = mapped_column(Integer)
    ends_at: Mapped[float] = mapped_column(Float)


class EmailLog(Base):
    """Every email attempt; the unique `idem_key` is what stops a retry sending twice."""

    __tablename__ = "email_log"
    __table_args__ = (
        CheckConstraint("status IN ('sending', 'sent', 'failed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idem_key: Mapped[str] = mapped_column(String(255), unique=True)
    ticket_id: Mapped[str | None] = mapped_column(String(64), index=True)
    template: Mapped[str] = mapped_column(String(100))
    to_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    message_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # "sending" | "sent" | "failed"
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Batch(Base):
    """A refresh ticket batch as created by staff (seed 001 "Refresh Ticket Batches")."""

    __tablename__ = "batch"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    config_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    source_name: Mapped[str] = mapped_column(String(255))  # e.g. the uploaded CSV's file name
    row_count: Mapped[int] = mapped_column(Integer)


class BatchLine(Base):
    """One line of a batch's CSV, stored at launch so the workflow reads them in pages.

    A good line carries its row (`BatchRow` as JSON); a line refused while parsing carries
    the reason instead. Temporal messages stay small however long the file is.
    """

    __tablename__ = "batch_line"

    batch_id: Mapped[str] = mapped_column(
        ForeignKey("batch.id", ondelete="CASCADE"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(255))
    row: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    refused: Mapped[str | None] = mapped_column(Text)


# --- refresh config history (issue 17) ------------------------------------------------------


class RefreshConfigVersion(Base):
    """One saved version of a refresh config: who saved it, when, from where, what changed.

    Version 1 is the config's creation. `changes` lists each field's value before and after
    (`domain.config_changes.FieldChange`); `snapshot` is the whole config as saved, so any
    version can be shown as it was.
    """

    __tablename__ = "refresh_config_version"

    config_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    saved_by: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32))  # "web editor" | "deskflow load"
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TicketConfigLoad(Base):
    """Which config version a ticket's workflow run read (written by `load_ticket_context`).

    The projection stamps each audit with the version its run acted under.
    """

    __tablename__ = "ticket_config_load"

    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    config_id: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- the service desk around the refresh (seed 002) -------------------------------------------


class ServiceDeskConfig(Base):
    """The `service_desk:` block of the reference data, whole (read whole, replaced whole)."""

    __tablename__ = "service_desk_config"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)


class SlaClockRow(Base):
    """Projection of an SlaClock workflow for the staff console's "Tickets under SLA"."""

    __tablename__ = "sla_clock"

    itsm: Mapped[str] = mapped_column(String(20), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    summary: Mapped[str] = mapped_column(String(500))
    team: Mapped[str] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    response_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_left_s: Mapped[int | None] = mapped_column(Integer)
    resolution_left_s: Mapped[int | None] = mapped_column(Integer)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ItsmDelivery(Base):
    """A webhook delivery already taken in: a repeat of the same delivery is answered, not
    delivered again."""

    __tablename__ = "itsm_delivery"
    __table_args__ = (UniqueConstraint("itsm", "delivery_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    itsm: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str] = mapped_column(String(128))
    ticket_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ItsmWatermark(Base):
    """How far the `itsm-catch-up` poll has read each ITSM's changes."""

    __tablename__ = "itsm_watermark"

    itsm: Mapped[str] = mapped_column(String(20), primary_key=True)
    watermark: Mapped[datetime] = mapped_column(UTCDateTime)


# --- provisioning intake (seed 000) ----------------------------------------------------------


class ProvisioningConfig(Base):
    """The `provisioning:` block of the reference data, whole."""

    __tablename__ = "provisioning_config"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)


class ProvisioningTicket(Base):
    """Projection of a ProvisioningIntake for the staff console (never a password)."""

    __tablename__ = "provisioning_ticket"

    halo_ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(40), index=True)
    subcategory: Mapped[str | None] = mapped_column(String(4))
    analyst: Mapped[str] = mapped_column(String(64), index=True)
    summary: Mapped[str] = mapped_column(String(500))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ProvisioningSecret(Base):
    """An Exhibit A password, AES-GCM encrypted with the key named by `key_id` (the row's
    ticket and field are the associated data, so a ciphertext cannot be moved to another
    row). Deleted when the ticket closes."""

    __tablename__ = "provisioning_secret"

    halo_ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ProvisioningTime(Base):
    """A time entry on a provisioning ticket (made in deskflow or Halo): the gauge's input."""

    __tablename__ = "provisioning_time"

    halo_ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    analyst: Mapped[str] = mapped_column(String(200))
    hours: Mapped[str] = mapped_column(String(20))
    work_type: Mapped[str] = mapped_column(String(200))
    category8: Mapped[bool] = mapped_column(Boolean)
    flagged: Mapped[bool] = mapped_column(Boolean)


# --- after hours for contract partners (seed 004) ---------------------------------------------


class AfterHoursConfig(Base):
    """The `after_hours:` block of the reference data, whole (read whole, replaced whole)."""

    __tablename__ = "after_hours_config"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)


class AfterHoursCase(Base):
    """Projection of one AfterHoursEscalation for the leads' night page."""

    __tablename__ = "after_hours_case"

    case_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), index=True)
    promise: Mapped[str] = mapped_column(String(20))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# --- outages and IT-partner triage (seeds 004 and 003) ---------------------------------------


class ProcessConfig(Base):
    """A process's reference data block, whole: `outages:` and `partner_triage:`."""

    __tablename__ = "process_config"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)


class OutageRow(Base):
    """Projection of an Outage workflow: the staff console and the public outage page."""

    __tablename__ = "outage"

    outage_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    itsm: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    service: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(200))
    public_note: Mapped[str] = mapped_column(Text)
    problem_id: Mapped[str | None] = mapped_column(String(64))
    owner_team: Mapped[str] = mapped_column(String(200))
    planned_id: Mapped[str | None] = mapped_column(String(64))
    linked: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TriageDecisionRow(Base):
    """Projection of a PartnerTriage decision: the staff console's "today's triage"."""

    __tablename__ = "triage_decision"

    itsm: Mapped[str] = mapped_column(String(20), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    summary: Mapped[str] = mapped_column(String(500))
    department: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(20))
    group: Mapped[str | None] = mapped_column(String(200))
    partner_id: Mapped[str | None] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(Text)
    flags: Mapped[list[str]] = mapped_column(JSON)
    reassignments: Mapped[int] = mapped_column(Integer)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
