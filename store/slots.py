"""Schedule slot booking rules, enforced by the database so they hold across workers.

Many worker processes book slots at once (customers picking day-1 times, staff
rescheduling, the nightly discovery), so "never over capacity" cannot be a read-then-write
check in Python. Instead one conditional UPDATE both checks and takes a place, and its row
count says whether it did: PostgreSQL re-evaluates the WHERE clause under the row lock, and
SQLite runs every transaction with BEGIN IMMEDIATE (see `store.db.make_engine`), so racing
callers queue and the loser sees the slot full.

Every function runs inside the caller's transaction and does not commit: the caller
commits (for instance with `store.db.session_scope`), and rolls back on any exception. A
`SlotUnavailable` is raised before anything is written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Update, select, update
from sqlalchemy.orm import Session

from store.tables import ScheduleSlot, SlotBooking

REBOOKED = "rebooked"
SLOT_DELETED = "slot deleted"


class SlotUnavailable(Exception):
    """The slot cannot be booked; `reason` is a sentence fit to show a customer or staff."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _update(session: Session, statement: Update) -> int:
    """Run an UPDATE (keeping loaded objects in sync) and return how many rows it changed."""
    result = session.execute(statement.execution_options(synchronize_session="fetch"))
    return cast("CursorResult[Any]", result).rowcount


def active_booking(session: Session, ticket_id: str) -> SlotBooking | None:
    """The ticket's current (unreleased) booking, if any; there is at most one."""
    return session.scalars(
        select(SlotBooking).where(
            SlotBooking.ticket_id == ticket_id, SlotBooking.released_at.is_(None)
        )
    ).one_or_none()


def book_slot(
    session: Session, *, slot_id: int, ticket_id: str, team_id: str, now: datetime
) -> SlotBooking:
    """Reserve a place in `slot_id` for `ticket_id`, atomically and never over capacity.

    Idempotent: if the ticket already holds this slot, that booking is returned unchanged
    (so an activity retry does not take a second place). If it holds another slot, that
    booking is released (reason "rebooked") in the same transaction, so a reschedule never
    leaves the ticket with two places or none.

    Raises SlotUnavailable when the slot does not exist, belongs to another team, was
    deleted, has started, or is full. Two concurrent calls for the *same* ticket can make
    the second fail with an IntegrityError on the one-active-booking index; retrying it
    then finds the first booking.
    """
    current = active_booking(session, ticket_id)
    if current is not None and current.slot_id == slot_id:
        return current
    if current is not None:
        # A move updates two slot rows. Lock both in id order first, so two tickets swapping
        # slots queue behind each other instead of deadlocking (no-op on SQLite, which
        # already holds the database lock).
        session.execute(
            select(ScheduleSlot.id)
            .where(ScheduleSlot.id.in_([current.slot_id, slot_id]))
            .order_by(ScheduleSlot.id)
            .with_for_update()
        ).all()

    taken = _update(
        session,
        update(ScheduleSlot)
        .where(
            ScheduleSlot.id == slot_id,
            ScheduleSlot.team_id == team_id,
            ScheduleSlot.deleted_at.is_(None),
            ScheduleSlot.start_at > now,
            ScheduleSlot.booked < ScheduleSlot.capacity,
        )
        .values(booked=ScheduleSlot.booked + 1),
    )
    if taken != 1:
        raise SlotUnavailable(_why_unavailable(session, slot_id=slot_id, team_id=team_id, now=now))

    if current is not None:
        _release(session, current, reason=REBOOKED, now=now)
    booking = SlotBooking(slot_id=slot_id, ticket_id=ticket_id, booked_at=now)
    session.add(booking)
    session.flush()
    return booking


def _why_unavailable(session: Session, *, slot_id: int, team_id: str, now: datetime) -> str:
    """Explain why the conditional UPDATE in `book_slot` matched no row."""
    slot = session.get(ScheduleSlot, slot_id, populate_existing=True)
    if slot is None:
        return f"slot {slot_id} does not exist"
    if slot.team_id != team_id:
        return f"slot {slot_id} belongs to team {slot.team_id}, not {team_id}"
    if slot.deleted_at is not None:
        return f"slot {slot_id} was deleted"
    if slot.start_at <= now:
        return f"slot {slot_id} is in the past"
    return f"slot {slot_id} is full"


def _release(session: Session, booking: SlotBooking, *, reason: str, now: datetime) -> bool:
    """Release `booking` and give its place back, unless someone released it already.

    The guard on `released_at IS NULL` makes the decrement happen once even when two
    transactions release the same booking concurrently.
    """
    released = _update(
        session,
        update(SlotBooking)
        .where(SlotBooking.id == booking.id, SlotBooking.released_at.is_(None))
        .values(released_at=now, released_reason=reason),
    )
    if released != 1:
        return False
    _update(
        session,
        update(ScheduleSlot)
        .where(ScheduleSlot.id == booking.slot_id, ScheduleSlot.booked > 0)
        .values(booked=ScheduleSlot.booked - 1),
    )
    return True


def release_booking(
    session: Session, *, ticket_id: str, reason: str, now: datetime | None = None
) -> SlotBooking | None:
    """Release the ticket's active booking (cancel, hold, customer reschedule request).

    Returns the released booking, or None if the ticket held no slot, so a retried call is
    harmless. `now` defaults to the current time.
    """
    booking = active_booking(session, ticket_id)
    if booking is None:
        return None
    if not _release(session, booking, reason=reason, now=now or datetime.now(UTC)):
        return None
    return booking


def free_slots(
    session: Session, team_id: str, now: datetime, until: datetime | None = None
) -> list[ScheduleSlot]:
    """The team's bookable slots: not deleted, starting after `now` (and before `until`),
    with a place left; in start order, as customers are offered them."""
    query = select(ScheduleSlot).where(
        ScheduleSlot.team_id == team_id,
        ScheduleSlot.deleted_at.is_(None),
        ScheduleSlot.start_at > now,
        ScheduleSlot.booked < ScheduleSlot.capacity,
    )
    if until is not None:
        query = query.where(ScheduleSlot.start_at < until)
    return list(session.scalars(query.order_by(ScheduleSlot.start_at, ScheduleSlot.id)))


def delete_slot(session: Session, slot_id: int, by: str, now: datetime) -> list[str]:
    """Delete a slot (staffing problem) and release its bookings; return their ticket ids.

    The caller asks each returned ticket to reschedule. Soft delete keeps the slot for the
    calendar history. Deleting an already deleted slot returns the tickets its deletion
    released, so a retried activity still learns whom to notify.
    Raises SlotUnavailable if the slot does not exist.
    """
    marked = _update(
        session,
        update(ScheduleSlot)
        .where(ScheduleSlot.id == slot_id, ScheduleSlot.deleted_at.is_(None))
        .values(deleted_at=now, deleted_by=by),
    )
    if marked != 1:
        if session.get(ScheduleSlot, slot_id) is None:
            raise SlotUnavailable(f"slot {slot_id} does not exist")
        return list(
            session.scalars(
                select(SlotBooking.ticket_id)
                .where(
                    SlotBooking.slot_id == slot_id,
                    SlotBooking.released_reason == SLOT_DELETED,
                )
                .order_by(SlotBooking.booked_at, SlotBooking.id)
            )
        )
    bookings = session.scalars(
        select(SlotBooking)
        .where(SlotBooking.slot_id == slot_id, SlotBooking.released_at.is_(None))
        .order_by(SlotBooking.booked_at, SlotBooking.id)
    ).all()
    return [
        booking.ticket_id
        for booking in bookings
        if _release(session, booking, reason=SLOT_DELETED, now=now)
    ]
