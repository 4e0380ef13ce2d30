"""Nightly slot generation against the database: insert what is due, skip what exists.

Idempotent by construction: rows go in with INSERT ... ON CONFLICT (team_id, start_at) DO
NOTHING, so a retried activity, two overlapping runs or a catch-up after days of downtime
create every slot exactly once, and never touch a slot that exists (its capacity, bookings
and deletion stay as they are). Which days are due is `domain.slot_generation`'s rule: from
the day after the team's newest slot (deleted ones count, so a slot an admin deleted is not
re-created) through today + 5 weeks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from domain.business_calendar import BusinessCalendar
from domain.scheduled_jobs import TeamGeneration
from domain.slot_generation import (
    PlannedSlot,
    SlotRule,
    first_day_to_generate,
    planned_slots,
)
from store.db import dialect_insert
from store.tables import ScheduleSlot, SlotPreference, SupportTeam

INSERT_BATCH = 500


def team_rules(session: Session, team_id: str) -> list[SlotRule]:
    """The team's preferences as generator rules, in (weekday, start) order."""
    prefs = session.scalars(
        select(SlotPreference)
        .where(SlotPreference.team_id == team_id)
        .order_by(SlotPreference.weekday, SlotPreference.start, SlotPreference.id)
    )
    return [
        SlotRule(
            team_id=p.team_id,
            weekday=p.weekday,
            start=time.fromisoformat(p.start),
            length_minutes=p.length_minutes,
            capacity=p.capacity,
            location=p.location,
        )
        for p in prefs
    ]


def insert_missing(session: Session, slots: Sequence[PlannedSlot]) -> int:
    """Insert the slots that do not exist yet; return how many were created."""
    insert = dialect_insert(session)
    created = 0
    for i in range(0, len(slots), INSERT_BATCH):
        rows = [
            {
                "team_id": s.team_id,
                "start_at": s.start_at,
                "end_at": s.end_at,
                "location": s.location,
                "capacity": s.capacity,
                "booked": 0,
            }
            for s in slots[i : i + INSERT_BATCH]
        ]
        statement = (
            insert(ScheduleSlot)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["team_id", "start_at"])
            .returning(ScheduleSlot.id)
        )
        created += len(session.execute(statement).all())
    return created


def newest_slot_start(session: Session, team_id: str) -> datetime | None:
    return session.scalar(
        select(func.max(ScheduleSlot.start_at)).where(ScheduleSlot.team_id == team_id)
    )


def generate_team(
    session: Session, team_id: str, calendar: BusinessCalendar, today: date, through: date
) -> TeamGeneration:
    """Create the team's due slots up to `through` in the caller's transaction."""
    first = first_day_to_generate(today, newest_slot_start(session, team_id), calendar.timezone)
    if first > through:
        return TeamGeneration(team_id=team_id, first=None)
    planned = planned_slots(team_rules(session, team_id), calendar, first, through)
    created = insert_missing(session, planned)
    return TeamGeneration(
        team_id=team_id, first=first, created=created, already_there=len(planned) - created
    )


def team_ids(session: Session, only: Iterable[str] | None = None) -> list[str]:
    query = select(SupportTeam.id).order_by(SupportTeam.id)
    if only is not None:
        query = query.where(SupportTeam.id.in_(list(only)))
    return list(session.scalars(query))


def generate_all(
    sessions: sessionmaker[Session],
    calendar: BusinessCalendar,
    today: date,
    through: date,
    only: Iterable[str] | None = None,
) -> list[TeamGeneration]:
    """Every team (or `only` these), one transaction per team so one team's trouble does not
    hold back the others' rows already committed (a retry skips them)."""
    with sessions() as db:
        teams = team_ids(db, only)
    results = []
    for team_id in teams:
        with sessions.begin() as db:
            results.append(generate_team(db, team_id, calendar, today, through))
    return results
