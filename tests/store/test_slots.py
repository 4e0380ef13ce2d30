"""Slot booking rules hold on the database, under concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from store.db import session_scope
from store.slots import (
    SlotUnavailable,
    active_booking,
    book_slot,
    delete_slot,
    free_slots,
    release_booking,
)
from store.tables import ScheduleSlot, SlotBooking, SupportTeam

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
TEAM = "nit-central"


def _add_slot(engine: Engine, start: datetime, capacity: int = 3, team: str = TEAM) -> int:
    with session_scope(engine) as session:
        if session.get(SupportTeam, team) is None:
            session.add(
                SupportTeam(id=team, name=team, slack_channel=f"#{team}", default_location="x")
            )
        slot = ScheduleSlot(
            team_id=team,
            start_at=start,
            end_at=start + timedelta(hours=1),
            location="Mason Hall",
            capacity=capacity,
        )
        session.add(slot)
        session.flush()
        return slot.id


def _book(engine: Engine, slot_id: int, ticket_id: str, team: str = TEAM) -> SlotBooking:
    with session_scope(engine) as session:
        return book_slot(session, slot_id=slot_id, ticket_id=ticket_id, team_id=team, now=NOW)


def _booked(engine: Engine, slot_id: int) -> int:
    with session_scope(engine) as session:
        slot = session.get(ScheduleSlot, slot_id)
        assert slot is not None
        return slot.booked


def test_fifty_concurrent_callers_never_exceed_capacity(engine: Engine) -> None:
    slot_id = _add_slot(engine, NOW + timedelta(days=2), capacity=3)
    callers = 50
    start_together = threading.Barrier(callers)

    def attempt(n: int) -> str:
        start_together.wait(timeout=60)
        try:
            _book(engine, slot_id, f"T{n:03d}")
        except SlotUnavailable as exc:
            return exc.reason
        return "booked"

    with ThreadPoolExecutor(max_workers=callers) as pool:
        outcomes = list(pool.map(attempt, range(callers)))

    assert outcomes.count("booked") == 3
    assert outcomes.count(f"slot {slot_id} is full") == 47
    assert _booked(engine, slot_id) == 3
    with session_scope(engine) as session:
        active = session.scalars(
            select(SlotBooking).where(
                SlotBooking.slot_id == slot_id, SlotBooking.released_at.is_(None)
            )
        ).all()
        assert len(active) == 3


def test_unavailable_reasons(engine: Engine) -> None:
    past = _add_slot(engine, NOW - timedelta(hours=1))
    starting_now = _add_slot(engine, NOW)
    other_team = _add_slot(engine, NOW + timedelta(days=1), team="nit-north")
    full = _add_slot(engine, NOW + timedelta(days=2), capacity=1)
    deleted = _add_slot(engine, NOW + timedelta(days=3))
    _book(engine, full, "T1")
    with session_scope(engine) as session:
        delete_slot(session, deleted, by="lead", now=NOW)

    cases = {
        past: f"slot {past} is in the past",
        starting_now: f"slot {starting_now} is in the past",
        other_team: f"slot {other_team} belongs to team nit-north, not nit-central",
        full: f"slot {full} is full",
        deleted: f"slot {deleted} was deleted",
        999_999: "slot 999999 does not exist",
    }
    for slot_id, reason in cases.items():
        with pytest.raises(SlotUnavailable) as caught:
            _book(engine, slot_id, "T2")
        assert caught.value.reason == reason
        assert str(caught.value) == reason
    with session_scope(engine) as session:
        assert active_booking(session, "T2") is None
    assert _booked(engine, full) == 1


def test_rebooking_same_slot_is_idempotent(engine: Engine) -> None:
    slot_id = _add_slot(engine, NOW + timedelta(days=1), capacity=2)
    first = _book(engine, slot_id, "T1")
    again = _book(engine, slot_id, "T1")
    assert again.id == first.id
    assert _booked(engine, slot_id) == 1


def test_booking_another_slot_moves_the_booking(engine: Engine) -> None:
    old = _add_slot(engine, NOW + timedelta(days=1), capacity=1)
    new = _add_slot(engine, NOW + timedelta(days=2), capacity=1)
    first = _book(engine, old, "T1")
    moved = _book(engine, new, "T1")
    assert moved.slot_id == new and moved.id != first.id
    assert (_booked(engine, old), _booked(engine, new)) == (0, 1)
    with session_scope(engine) as session:
        released = session.get(SlotBooking, first.id)
        assert released is not None and released.released_reason == "rebooked"
        current = active_booking(session, "T1")
        assert current is not None and current.id == moved.id
    # The old slot's place is free again for someone else.
    assert _book(engine, old, "T2").slot_id == old


def test_failed_move_keeps_the_old_booking(engine: Engine) -> None:
    old = _add_slot(engine, NOW + timedelta(days=1), capacity=1)
    full = _add_slot(engine, NOW + timedelta(days=2), capacity=1)
    _book(engine, old, "T1")
    _book(engine, full, "T2")
    with pytest.raises(SlotUnavailable, match="is full"):
        _book(engine, full, "T1")
    with session_scope(engine) as session:
        current = active_booking(session, "T1")
        assert current is not None and current.slot_id == old
    assert _booked(engine, old) == 1


def test_release_booking(engine: Engine) -> None:
    slot_id = _add_slot(engine, NOW + timedelta(days=1), capacity=1)
    _book(engine, slot_id, "T1")
    with session_scope(engine) as session:
        released = release_booking(session, ticket_id="T1", reason="cancelled", now=NOW)
        assert released is not None
        assert (released.released_reason, released.released_at) == ("cancelled", NOW)
    assert _booked(engine, slot_id) == 0
    with session_scope(engine) as session:
        assert release_booking(session, ticket_id="T1", reason="cancelled") is None
        assert release_booking(session, ticket_id="never-booked", reason="x") is None
    assert _booked(engine, slot_id) == 0


def test_free_slots(engine: Engine) -> None:
    later = _add_slot(engine, NOW + timedelta(days=3))
    sooner = _add_slot(engine, NOW + timedelta(days=1))
    full = _add_slot(engine, NOW + timedelta(days=2), capacity=1)
    _add_slot(engine, NOW - timedelta(days=1))  # past
    _add_slot(engine, NOW + timedelta(days=1), team="nit-north")  # other team
    deleted = _add_slot(engine, NOW + timedelta(days=4))
    far = _add_slot(engine, NOW + timedelta(days=40))
    _book(engine, full, "T1")
    with session_scope(engine) as session:
        delete_slot(session, deleted, by="lead", now=NOW)
        assert [s.id for s in free_slots(session, TEAM, NOW)] == [sooner, later, far]
        until = NOW + timedelta(days=35)
        assert [s.id for s in free_slots(session, TEAM, NOW, until=until)] == [sooner, later]


def test_delete_slot_returns_its_tickets(engine: Engine) -> None:
    slot_id = _add_slot(engine, NOW + timedelta(days=1), capacity=3)
    other = _add_slot(engine, NOW + timedelta(days=2), capacity=3)
    _book(engine, slot_id, "T1")
    _book(engine, slot_id, "T2")
    _book(engine, other, "T3")
    _book(engine, slot_id, "T4")
    with session_scope(engine) as session:
        release_booking(session, ticket_id="T4", reason="cancelled", now=NOW)

    with session_scope(engine) as session:
        assert delete_slot(session, slot_id, by="lead", now=NOW) == ["T1", "T2"]
    with session_scope(engine) as session:
        slot = session.get(ScheduleSlot, slot_id)
        assert slot is not None
        assert (slot.deleted_by, slot.deleted_at, slot.booked) == ("lead", NOW, 0)
        assert active_booking(session, "T1") is None
        assert active_booking(session, "T3") is not None
        # A retried delete still names the tickets to notify.
        assert delete_slot(session, slot_id, by="lead", now=NOW) == ["T1", "T2"]
        with pytest.raises(SlotUnavailable, match="slot 424242 does not exist"):
            delete_slot(session, 424242, by="lead", now=NOW)
    with pytest.raises(SlotUnavailable, match="was deleted"):
        _book(engine, slot_id, "T1")


def test_concurrent_swaps_neither_deadlock_nor_leak_places(engine: Engine) -> None:
    slot_a = _add_slot(engine, NOW + timedelta(days=1), capacity=2)
    slot_b = _add_slot(engine, NOW + timedelta(days=2), capacity=2)
    _book(engine, slot_a, "T1")
    _book(engine, slot_b, "T2")
    rounds = 20
    together = threading.Barrier(2)

    def keep_moving(ticket_id: str, first: int, second: int) -> None:
        try:
            for n in range(rounds):
                together.wait(timeout=60)
                _book(engine, second if n % 2 == 0 else first, ticket_id)
        except BaseException:
            together.abort()  # release the other thread instead of leaving it waiting
            raise

    with ThreadPoolExecutor(max_workers=2) as pool:
        moves = [
            pool.submit(keep_moving, "T1", slot_a, slot_b),
            pool.submit(keep_moving, "T2", slot_b, slot_a),
        ]
        for move in moves:
            move.result()  # re-raises a deadlock or any other failure

    assert _booked(engine, slot_a) + _booked(engine, slot_b) == 2
    with session_scope(engine) as session:
        t1, t2 = active_booking(session, "T1"), active_booking(session, "T2")
        assert t1 is not None and t1.slot_id == slot_a
        assert t2 is not None and t2.slot_id == slot_b
