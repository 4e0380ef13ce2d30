"""A support team's schedule slots as an iCalendar feed (seed 001: "calendar links ... that
you can subscribe to in order to see the Schedule Slot times on your own calendar").

The web app serves `team_feed(...)` at the team's feed URL. Each slot is one VEVENT whose UID
is `slot-{id}@deskflow`: the slot's primary key never changes, so a subscribed calendar that
polls the feed again updates the same events (booked counts) instead of duplicating them, and
drops a slot once it is deleted (deleted slots are left out).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.ics import team_feed_ics
from store.slot_preferences import UnknownTeam
from store.tables import ScheduleSlot, SupportTeam

__all__ = ["FEED_PAST_DAYS", "UnknownTeam", "team_feed", "team_feed_rows"]

FEED_PAST_DAYS = 30
"""How far back the feed goes: recent history for the team, without growing forever."""


def team_feed_rows(
    session: Session, team_id: str, since: datetime
) -> list[tuple[int, datetime, datetime, str, int, int]]:
    """(slot_id, start, end, location, capacity, booked) of the team's live slots starting at
    or after `since`, in start order: what `domain.ics.team_feed_ics` takes."""
    rows = session.execute(
        select(
            ScheduleSlot.id,
            ScheduleSlot.start_at,
            ScheduleSlot.end_at,
            ScheduleSlot.location,
            ScheduleSlot.capacity,
            ScheduleSlot.booked,
        )
        .where(
            ScheduleSlot.team_id == team_id,
            ScheduleSlot.deleted_at.is_(None),
            ScheduleSlot.start_at >= since,
        )
        .order_by(ScheduleSlot.start_at, ScheduleSlot.id)
    ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def team_feed(
    session: Session,
    team_id: str,
    *,
    now: datetime | None = None,
    past_days: int = FEED_PAST_DAYS,
) -> bytes:
    """The team's feed as `text/calendar` bytes. Raises UnknownTeam."""
    team = session.get(SupportTeam, team_id)
    if team is None:
        raise UnknownTeam(team_id)
    now = now or datetime.now(UTC)
    rows = team_feed_rows(session, team_id, now - timedelta(days=past_days))
    return team_feed_ics(team.name, rows, now)
