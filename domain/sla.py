"""SLA arithmetic in working time: pure interval sums over a business calendar (seed 002).

A service-level target ("respond within 4 working hours, resolve within 2 working days")
counts only the working hours of the ticket's calendar: business hours on business days,
never weekends, holidays or closed days. Everything here works on whole intervals, one
calendar day at a time (a 10-day target walks about 14 days), never minute by minute, and is
pure, so `SlaClock` computes its timers deterministically and the web page, the bench and
the tests compute exactly the same instants.

The rules, each a bug other service desks shipped:

* a ticket opened outside working hours starts counting at the next opening;
* paused time is removed only where it overlaps working time, so a pause over a weekend
  does not take the weekend off twice;
* an instant is notified in working time: a warning due exactly at closing is sent at the
  next opening, never at 00:00 or on a weekend;
* a priority change keeps the working time already spent and the pauses already taken;
* working days follow the local wall clock, so DST days are as long as the clock says.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.business_calendar import BusinessCalendar, _zone

ZERO = timedelta(0)


def day_window(cal: BusinessCalendar, d: date) -> tuple[datetime, datetime] | None:
    """The UTC interval of business hours on local date `d`, or None if `d` is closed."""
    if not cal.is_business_day(d):
        return None
    return cal.at_local(d, cal.day_start), cal.at_local(d, cal.day_end)


def working_day_length(cal: BusinessCalendar) -> timedelta:
    """The nominal length of a working day, which a target "in days" multiplies."""
    start = timedelta(hours=cal.day_start.hour, minutes=cal.day_start.minute)
    end = timedelta(hours=cal.day_end.hour, minutes=cal.day_end.minute)
    return end - start


def _windows_from(cal: BusinessCalendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Working windows from `start` on (the first clipped to start), forever."""
    d = start.astimezone(_zone(cal.timezone)).date() - timedelta(days=1)
    while True:
        window = day_window(cal, d)
        d += timedelta(days=1)
        if window is None or window[1] <= start:
            continue
        yield max(window[0], start), window[1]


def working_time(cal: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """The working time inside [start, end): the sum of its overlaps with business hours."""
    total = ZERO
    if end <= start:
        return total
    for opens, closes in _windows_from(cal, start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total


def add_working_time(cal: BusinessCalendar, start: datetime, amount: timedelta) -> datetime:
    """The instant at which `amount` of working time has passed since `start`.

    Zero from outside working hours is the next opening (the clock starts there). A target
    that runs out exactly at closing is due at closing; see `notify_at` for when to tell.
    """
    if amount < ZERO:
        raise ValueError("amount of working time must not be negative")
    left = amount
    for opens, closes in _windows_from(cal, start):
        if left <= closes - opens:
            return opens + left
        left -= closes - opens
    raise AssertionError("unreachable: the calendar has a business day in every fortnight")


def notify_at(cal: BusinessCalendar, instant: datetime) -> datetime:
    """When to tell people about `instant`: itself in working hours, else the next opening."""
    if cal.is_business_hours(instant):
        return instant
    return add_working_time(cal, instant, ZERO)


# ----- policies and the state of one clock ------------------------------------------------------


class Targets(BaseModel):
    """Response and resolution targets of one priority, as working time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    response: timedelta
    resolution: timedelta


class Pause(BaseModel):
    """The ticket was in a hold status from `start` to `end` (None: still on hold)."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime | None = None


class SlaState(StrEnum):
    """The `SlaState` search attribute's values."""

    running = "running"
    paused = "paused"
    warning = "warning"
    breached = "breached"
    met = "met"


class Target(StrEnum):
    response = "response"
    resolution = "resolution"


def spent(
    cal: BusinessCalendar, opened: datetime, pauses: Sequence[Pause], at: datetime
) -> timedelta:
    """Working time counted on the clock at `at`: opened..at minus the paused working time."""
    total = working_time(cal, opened, at)
    for p in pauses:
        end = at if p.end is None else min(p.end, at)
        total -= working_time(cal, max(p.start, opened), end)
    return max(total, ZERO)


def due_instant(
    cal: BusinessCalendar,
    opened: datetime,
    pauses: Sequence[Pause],
    target: timedelta,
    now: datetime,
) -> datetime | None:
    """When `target` of working time runs out, if the clock runs from `now` on; None if it
    is paused now (a paused clock has no due instant)."""
    if pauses and pauses[-1].end is None:
        return None
    base = max(now, opened)
    used = spent(cal, opened, pauses, base)
    if used >= target:
        return _ran_out_at(cal, opened, pauses, target)
    return add_working_time(cal, base, target - used)


def _ran_out_at(
    cal: BusinessCalendar, opened: datetime, pauses: Sequence[Pause], target: timedelta
) -> datetime:
    """The instant the running stretches between pauses had accumulated `target`."""
    left, cursor = target, opened
    for p in pauses:
        if p.start > cursor:
            stretch = working_time(cal, cursor, p.start)
            if stretch >= left:
                return add_working_time(cal, cursor, left)
            left -= stretch
        if p.end is not None:
            cursor = max(cursor, p.end)
    return add_working_time(cal, cursor, left)


class Milestone(BaseModel):
    """A warning share or the breach (100 %) of one target, and whether it was told."""

    model_config = ConfigDict(extra="forbid")

    target: Target
    percent: int = Field(ge=1, le=100)
    notified_at: AwareDatetime | None = None

    @property
    def name(self) -> str:
        return f"{self.target.value}:{self.percent}"


def milestones(warn_percents: Sequence[int]) -> list[Milestone]:
    """Every warning share and the breach, for both targets, in no particular order."""
    shares = sorted({p for p in warn_percents if 0 < p < 100}) + [100]
    return [Milestone(target=t, percent=p) for t in Target for p in shares]


def milestone_due(
    cal: BusinessCalendar,
    opened: datetime,
    pauses: Sequence[Pause],
    targets: Targets,
    m: Milestone,
    now: datetime,
) -> datetime | None:
    """When milestone `m` falls due (as a notification instant), None while paused."""
    full = targets.response if m.target == Target.response else targets.resolution
    amount = full * m.percent / 100
    instant = due_instant(cal, opened, pauses, amount, now)
    return None if instant is None else notify_at(cal, instant)
