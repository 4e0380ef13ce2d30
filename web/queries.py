"""The web app's reads (and its few reference-data writes) of the app database.

Plain synchronous functions on a session, called off the event loop (`WebApp.db`). Ticket
lists read the projection (`ticket`); the lifecycle itself is never written here: that goes
to the workflow as an update or signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.orm import Session

from domain.refresh import PROBLEM_STATUSES, TERMINAL, ConfigView, Status
from store import slots as slot_rules
from store.config_history import current_version
from store.db import SQLITE_BUSY_TIMEOUT_MS, make_engine, normalize_url
from store.reference import config_view
from store.tables import (
    Audit,
    Batch,
    EmailLog,
    Event,
    RefreshConfig,
    ScheduleSlot,
    SlotBooking,
    StaffUser,
    SupportTeam,
    Ticket,
)

STYLES = ("on_prem", "remote", "unit_location", "no_customer")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# ----- staff and approvers ---------------------------------------------------------------


def staff_user(db: Session, username: str) -> StaffUser | None:
    return db.get(StaffUser, username)


def approver_config_ids(db: Session, username: str, email: str) -> frozenset[str]:
    """Configs naming this person as an approver (by uniqname or email, as the workflow does)."""
    who = {username.lower(), email.lower()}
    found = set()
    for cfg_id, approvers in db.execute(select(RefreshConfig.id, RefreshConfig.approvers)):
        for a in approvers or []:
            if {str(a.get("uniqname", "")).lower(), str(a.get("email", "")).lower()} & who:
                found.add(cfg_id)
    return frozenset(found)


# ----- tickets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    team: str | None = None
    style: str | None = None
    batch: str | None = None
    config: str | None = None
    q: str | None = None

    def clauses(self) -> list:
        out = []
        if self.status:
            out.append(Ticket.status == self.status)
        if self.team:
            out.append(Ticket.support_team == self.team)
        if self.style:
            out.append(Ticket.style == self.style)
        if self.batch:
            out.append(Ticket.batch_id == self.batch)
        if self.config:
            out.append(Ticket.config_id == self.config)
        if self.q:
            like = f"%{self.q.strip()}%"
            out.append(
                Ticket.ticket_id.ilike(like)
                | Ticket.existing_serial.ilike(like)
                | Ticket.replacement_serial.ilike(like)
                | Ticket.user_uniqname.ilike(like)
                | Ticket.user_name.ilike(like)
            )
        return out


def list_tickets(
    db: Session, flt: TicketFilter, *, limit: int = 100, offset: int = 0, configs=None
) -> tuple[list[Ticket], int]:
    where = flt.clauses()
    if configs is not None:
        where.append(Ticket.config_id.in_(list(configs)))
    total = db.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0
    rows = db.scalars(
        select(Ticket)
        .where(*where)
        .order_by(Ticket.updated_at.desc(), Ticket.ticket_id)
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), total


def filter_choices(db: Session) -> dict[str, list[str]]:
    return {
        "status": [s.value for s in Status],
        "team": list(db.scalars(select(SupportTeam.id).order_by(SupportTeam.id))),
        "style": list(STYLES),
        "batch": list(db.scalars(select(Batch.id).order_by(Batch.created_at.desc()))),
        "config": list(db.scalars(select(RefreshConfig.id).order_by(RefreshConfig.id))),
    }


def ticket_row(db: Session, ticket_id: str) -> Ticket | None:
    return db.get(Ticket, ticket_id)


def ticket_addresses(db: Session, ticket_id: str) -> tuple[str, str | None] | None:
    """(user email, delegate email) of a ticket: what a customer link is checked against."""
    row = db.execute(
        select(Ticket.user_email, Ticket.delegate_email).where(Ticket.ticket_id == ticket_id)
    ).first()
    return None if row is None else (row[0], row[1])


def problem_tickets(db: Session, limit: int = 500) -> list[Ticket]:
    return list(
        db.scalars(
            select(Ticket)
            .where(Ticket.status.in_([s.value for s in PROBLEM_STATUSES]))
            .order_by(Ticket.updated_at)
            .limit(limit)
        )
    )


def failed_emails(db: Session, limit: int = 200) -> list[EmailLog]:
    return list(
        db.scalars(
            select(EmailLog)
            .where(EmailLog.status == "failed")
            .order_by(EmailLog.created_at.desc())
            .limit(limit)
        )
    )


def open_ticket_ids(db: Session, limit: int) -> tuple[list[str], int]:
    """Most recently changed non-terminal tickets (to look for stuck activities)."""
    where = Ticket.status.notin_([s.value for s in TERMINAL])
    total = db.scalar(select(func.count()).select_from(Ticket).where(where)) or 0
    ids = db.scalars(
        select(Ticket.ticket_id).where(where).order_by(Ticket.updated_at.desc()).limit(limit)
    )
    return list(ids), total


def ticket_history(db: Session, ticket_id: str) -> dict[str, list]:
    """Audits, events and email log rows of a ticket, oldest first."""
    return {
        "audits": list(
            db.scalars(select(Audit).where(Audit.ticket_id == ticket_id).order_by(Audit.seq))
        ),
        "events": list(
            db.scalars(select(Event).where(Event.ticket_id == ticket_id).order_by(Event.at))
        ),
        "emails": list(
            db.scalars(
                select(EmailLog)
                .where(EmailLog.ticket_id == ticket_id)
                .order_by(EmailLog.created_at, EmailLog.id)
            )
        ),
    }


def tickets_in_status(
    db: Session, statuses: list[str], flt: TicketFilter | None = None, limit: int = 500
) -> list[Ticket]:
    where = [Ticket.status.in_(statuses), *((flt or TicketFilter()).clauses())]
    return list(
        db.scalars(
            select(Ticket).where(*where).order_by(Ticket.created_at, Ticket.ticket_id).limit(limit)
        )
    )


# ----- configs, teams, slots ---------------------------------------------------------------


def configs(db: Session) -> list[RefreshConfig]:
    return list(db.scalars(select(RefreshConfig).order_by(RefreshConfig.id)))


def config(db: Session, config_id: str) -> ConfigView | None:
    row = db.get(RefreshConfig, config_id)
    return None if row is None else config_view(row, current_version(db, config_id))


def config_row(db: Session, config_id: str) -> RefreshConfig | None:
    return db.get(RefreshConfig, config_id)


def teams(db: Session) -> list[SupportTeam]:
    return list(db.scalars(select(SupportTeam).order_by(SupportTeam.id)))


def team(db: Session, team_id: str) -> SupportTeam | None:
    return db.get(SupportTeam, team_id)


def free_slots(db: Session, team_id: str, now: datetime) -> list[ScheduleSlot]:
    """Bookable slots of the team (they only exist about 5 weeks ahead, so no upper bound)."""
    return slot_rules.free_slots(db, team_id, now)


def slot(db: Session, slot_id: int) -> ScheduleSlot | None:
    return db.get(ScheduleSlot, slot_id)


def team_calendar(
    db: Session, team_id: str, start: datetime, end: datetime | None
) -> list[tuple[ScheduleSlot, list[str]]]:
    """The team's live slots from start (until end), each with its booked ticket ids."""
    query = select(ScheduleSlot).where(
        ScheduleSlot.team_id == team_id,
        ScheduleSlot.deleted_at.is_(None),
        ScheduleSlot.start_at >= start,
    )
    if end is not None:
        query = query.where(ScheduleSlot.start_at < end)
    slots = list(db.scalars(query.order_by(ScheduleSlot.start_at, ScheduleSlot.id)))
    booked: dict[int, list[str]] = {s.id: [] for s in slots}
    if slots:
        for slot_id, ticket_id in db.execute(
            select(SlotBooking.slot_id, SlotBooking.ticket_id).where(
                SlotBooking.slot_id.in_(list(booked)), SlotBooking.released_at.is_(None)
            )
        ):
            booked[slot_id].append(ticket_id)
    return [(s, sorted(booked[s.id])) for s in slots]


# ----- batches ---------------------------------------------------------------------------


def batches(db: Session, limit: int = 200) -> list[Batch]:
    return list(db.scalars(select(Batch).order_by(Batch.created_at.desc()).limit(limit)))


def batch(db: Session, batch_id: str) -> Batch | None:
    return db.get(Batch, batch_id)


def claim_batch(db: Session, batch_id: str, username: str) -> None:
    """Name the staff member who created a batch row that `operations.batches` just wrote."""
    row = db.get(Batch, batch_id)
    if row is not None and row.created_by == "cli":
        row.created_by = username


# ----- engines -----------------------------------------------------------------------------


def read_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the web app's reads.

    On PostgreSQL it is `store.db.make_engine`'s. On SQLite, `make_engine` opens every
    transaction with BEGIN IMMEDIATE (right for writers); page reads need no write lock, and
    in WAL mode a plain deferred read never waits for the worker's projection writes.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return make_engine(url, **kwargs)
    engine = create_engine(parsed, connect_args={"check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA query_only=ON")
        finally:
            cursor.close()

    return engine
