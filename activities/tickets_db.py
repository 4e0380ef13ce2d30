"""Database activities of a ticket: its reference data, its projection, its slot booking.

Plain sync functions run in the worker's thread pool: SQLAlchemy sessions are synchronous
and short, and the pool keeps them off the event loop that polls Temporal.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.ticket_projection import Projection, ProjectionWriter
from domain.activity_requests import (
    BookSlotRequest,
    LoadTicketContext,
    RecordEvent,
    ReleaseSlotRequest,
)
from domain.business_calendar import BusinessCalendar
from domain.holiday_dates import closed_dates_for
from domain.refresh import BookedSlot, TeamView, TicketContext
from store import slots as slot_rules
from store.config_history import record_load
from store.reference import config_view
from store.tables import CalendarConfig, Event, RefreshConfig, SupportTeam


def load_calendar(db: Session, today: date) -> BusinessCalendar:
    """The business calendar with explicit closed dates: replay never depends on `holidays`."""
    cfg = db.get(CalendarConfig, 1)
    if cfg is None:
        raise ApplicationError("no calendar loaded: run `deskflow load` first", non_retryable=True)
    closed = closed_dates_for(
        cfg.country_holidays,
        None,
        range(today.year - 1, today.year + 3),
        [date.fromisoformat(str(d)) for d in cfg.closed_days or []],
    )
    return BusinessCalendar(
        timezone=cfg.timezone,
        day_start=time.fromisoformat(cfg.business_start),
        day_end=time.fromisoformat(cfg.business_end),
        closed_dates=closed,
    )


class TicketDbActivities:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._projections = ProjectionWriter(sessions)

    @staticmethod
    def _note_config_read(db: Session, config_id: str) -> int:
        """Record which config version this ticket's run reads (idempotent per version)."""
        info = activity.info()
        ticket_id = info.workflow_id.removeprefix("refresh-")
        version = record_load(db, ticket_id, info.workflow_run_id, config_id, datetime.now(UTC))
        db.commit()
        return version

    @activity.defn(name="load_ticket_context")
    def load_ticket_context(self, req: LoadTicketContext) -> TicketContext:
        with self.sessions() as db:
            cfg = db.get(RefreshConfig, req.config_id)
            team = db.get(SupportTeam, req.team_id)
            if cfg is None or team is None:
                missing = "refresh config" if cfg is None else "support team"
                raise ApplicationError(
                    f"unknown {missing} '{req.config_id if cfg is None else req.team_id}'",
                    type="UnknownReference",
                )
            version = self._note_config_read(db, req.config_id)
            return TicketContext(
                config=config_view(cfg, version),
                team=TeamView(
                    id=team.id,
                    name=team.name,
                    slack_channel=team.slack_channel,
                    default_location=team.default_location or "",
                ),
                calendar=load_calendar(db, datetime.now(UTC).date()),
            )

    @activity.defn(name="project_ticket")
    async def project_ticket(self, req: dict[str, Any]) -> None:
        """Upsert the ticket's row (unless it holds a newer revision) and add new audits.

        `req` is a `ProjectTicket` as the workflow sent it, read as plain JSON (see
        `activities.ticket_projection`). Idempotent: a retry finds its audits written and its
        revision in place. Runs before `revision` (0) always write, and send every audit:
        those already written are skipped.
        """
        run_id = activity.info().workflow_run_id
        await self._projections.write(Projection(state=req["state"], run_id=run_id))

    @activity.defn(name="record_event")
    def record_event(self, req: RecordEvent) -> None:
        try:
            with self.sessions.begin() as db:
                db.add(
                    Event(
                        key=req.key,
                        ticket_id=req.ticket_id,
                        kind=req.kind,
                        at=req.at,
                        detail=req.detail,
                    )
                )
        except IntegrityError:
            pass  # an earlier attempt recorded it

    @activity.defn(name="book_slot")
    def book_slot(self, req: BookSlotRequest) -> BookedSlot:
        # store.slots functions never commit: the transaction is ours (begin() commits).
        with self.sessions.begin() as db:
            try:
                booking = slot_rules.book_slot(
                    db,
                    slot_id=req.slot_id,
                    ticket_id=req.ticket_id,
                    team_id=req.team_id,
                    now=req.now,
                )
            except slot_rules.SlotUnavailable as e:
                raise ApplicationError(str(e), type="SlotUnavailable", non_retryable=True) from e
            slot = booking.slot
            return BookedSlot(
                slot_id=slot.id,
                start=slot.start_at,
                end=slot.end_at,
                location=slot.location,
            )

    @activity.defn(name="release_slot")
    def release_slot(self, req: ReleaseSlotRequest) -> None:
        with self.sessions.begin() as db:
            slot_rules.release_booking(db, ticket_id=req.ticket_id, reason=req.reason)
