"""Which schedule slots should exist: Schedule Slot Preferences x business calendar (PURE).

Seed 001 "Schedule Slots": each support team declares weekly Schedule Slot Preferences
(weekday, local start time, length, capacity, location); every night slots are created 5 weeks
ahead from them. This module is the rule only, no I/O and no clock, so the nightly activity, the
preference editor's validation, the bench and the tests all compute the same answer:

* a slot exists on every *business day* (``BusinessCalendar.is_business_day``: never on a
  weekend, a holiday or a configured closure/season day) whose weekday has a preference;
* its start is the preference's local wall-clock time in the calendar's zone, converted to
  UTC for that date (``BusinessCalendar.at_local``), so 09:00 is 14:00 UTC in January and
  13:00 UTC in July; its end is ``length_minutes`` of real time later;
* two preferences that would start at the same instant give one slot (the table is unique on
  ``(team_id, start_at)``): the first one wins.

Safe to import from workflows: only pydantic, datetime and zoneinfo.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.business_calendar import BusinessCalendar

GENERATION_WEEKS = 5
"""Slots are created this many weeks ahead of today (seed 001)."""

WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Index = ``date.weekday()`` (0 = Monday), as stored in ``slot_preference.weekday``."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SlotRule(_Frozen):
    """One Schedule Slot Preference of a team, as the generator reads it."""

    team_id: str
    weekday: int = Field(ge=0, le=6)
    start: time
    length_minutes: int = Field(gt=0, le=24 * 60)
    capacity: int = Field(gt=0)
    location: str

    @property
    def end(self) -> time:
        """Local wall-clock end (for display and overlap checks; may wrap past midnight)."""
        minutes = self.start.hour * 60 + self.start.minute + self.length_minutes
        return time((minutes // 60) % 24, minutes % 60)


class PlannedSlot(_Frozen):
    """A slot that should exist: the row the nightly generation inserts if missing."""

    team_id: str
    start_at: datetime
    end_at: datetime
    location: str
    capacity: int


@lru_cache(maxsize=32)
def _zone(key: str) -> ZoneInfo:
    # ZoneInfo.no_cache: the plain object even inside Temporal's sandbox (see
    # domain.business_calendar._zone for why); zone data is immutable, so caching is safe.
    return ZoneInfo.no_cache(key)


def local_date(moment: datetime, timezone: str) -> date:
    """The calendar date of an aware instant in ``timezone`` ("today" of a nightly run)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"moment must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(_zone(timezone)).date()


def generation_window(
    now: datetime, timezone: str, weeks: int = GENERATION_WEEKS
) -> tuple[date, date]:
    """(today, last day) of the slots a run at ``now`` is responsible for, both inclusive."""
    today = local_date(now, timezone)
    return today, today + timedelta(weeks=weeks)


def planned_slots(
    rules: Iterable[SlotRule], calendar: BusinessCalendar, first: date, last: date
) -> list[PlannedSlot]:
    """Every slot the rules call for on business days from ``first`` to ``last`` inclusive,
    ordered by (team, start)."""
    by_weekday: dict[int, list[SlotRule]] = {}
    for rule in rules:
        by_weekday.setdefault(rule.weekday, []).append(rule)
    seen: set[tuple[str, datetime]] = set()
    out: list[PlannedSlot] = []
    day = first
    while day <= last:
        if calendar.is_business_day(day):
            for rule in by_weekday.get(day.weekday(), ()):
                start = calendar.at_local(day, rule.start)
                if (rule.team_id, start) in seen:
                    continue
                seen.add((rule.team_id, start))
                out.append(
                    PlannedSlot(
                        team_id=rule.team_id,
                        start_at=start,
                        end_at=start + timedelta(minutes=rule.length_minutes),
                        location=rule.location,
                        capacity=rule.capacity,
                    )
                )
        day += timedelta(days=1)
    out.sort(key=lambda s: (s.team_id, s.start_at))
    return out


def first_day_to_generate(today: date, last_existing: datetime | None, timezone: str) -> date:
    """Where tonight's run starts for a team: the day after its newest slot, never before today.

    Seed 001: "Schedule Slots are created each night 5 weeks in the future. Therefore Schedule
    Slot Changes are not immediately reflected." So a run only fills the days that entered the
    5-week window since the last run (one day per night; several after a downtime), and a
    changed preference reaches the calendar only as new nights are generated. A team without
    slots (new team, first run) gets the whole window.
    """
    if last_existing is None:
        return today
    return max(today, local_date(last_existing, timezone) + timedelta(days=1))


# ----- validation of a team's preference list (the preference editor) ---------------------


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def preference_problems(
    rules: Sequence[SlotRule], calendar: BusinessCalendar | None = None
) -> list[tuple[int, str, str]]:
    """What is wrong with a team's whole preference list, as (index, field, message).

    * a weekend preference would never produce a slot (slots exist on business days only);
    * the slot must lie within business hours when a calendar is given (and within its day);
    * two preferences may not start at the same weekday and time (one slot per start);
    * two preferences at the same location may not overlap (make it one slot with more
      capacity instead); parallel slots at different locations are fine.

    A clash between two preferences is reported at the later one of the list.
    """
    problems: list[tuple[int, str, str]] = []
    for i, rule in enumerate(rules):
        name = WEEKDAY_NAMES[rule.weekday]
        if rule.weekday >= 5:
            problems.append(
                (i, "weekday", f"{name} is never a business day: no slot would ever be created")
            )
        start, end = _minutes(rule.start), _minutes(rule.start) + rule.length_minutes
        if end > 24 * 60:
            problems.append((i, "length_minutes", "the slot would run past midnight"))
        elif calendar is not None:
            open_, close = _minutes(calendar.day_start), _minutes(calendar.day_end)
            if start < open_ or end > close:
                problems.append(
                    (
                        i,
                        "start",
                        f"{rule.start:%H:%M}-{rule.end:%H:%M} is outside business hours "
                        f"{calendar.day_start:%H:%M}-{calendar.day_end:%H:%M}",
                    )
                )
        for other in rules[:i]:
            if other.weekday != rule.weekday:
                continue
            if other.start == rule.start:
                problems.append(
                    (i, "start", f"another preference already starts {name} {rule.start:%H:%M}")
                )
                break
            o_start = _minutes(other.start)
            o_end = o_start + other.length_minutes
            if other.location == rule.location and start < o_end and o_start < end:
                problems.append(
                    (
                        i,
                        "start",
                        f"{name} {rule.start:%H:%M}-{rule.end:%H:%M} overlaps {name} "
                        f"{other.start:%H:%M}-{other.end:%H:%M} at {rule.location}; "
                        "make it one slot with more capacity",
                    )
                )
                break  # one clash per preference is enough to fix it
    return problems
