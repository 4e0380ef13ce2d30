"""On-call schedules and the Contract Partner Support desk's hours: pure functions of an instant.

Seed 004 sends a critical after-hours call to "the on-call technician" of the partner's
schedule (the AIMS On-call Schedule or the GDS On Call Schedule). A schedule here is the
shape every on-call tool uses: rotation layers (a start, a turn length, the people in order,
optionally restricted to weekly windows such as nights and weekends, and to the desk's
holidays), and overrides (a swap for one night). All of it is read in the deployment's local
wall-clock time, so a weekly hand-off at Monday 07:00 stays at 07:00 across DST.

Why there is no gap and no double cover on a changeover night: every boundary (a hand-off,
a window opening or closing, an override) is a local wall time turned into one instant by
`instant`: the first instant whose wall time reaches it. A wall time in the spring-forward
gap (02:30) becomes the changeover instant (03:00 EDT); a wall time in the repeated fall-back
hour (01:30) becomes its first occurrence. Boundaries stay in order as instants, so the
person on call is a step function of the instant: one person at a time, each hand-off once.

Workflows call these functions inside Temporal's sandbox: no I/O, no clock, no `holidays`
package (closed dates arrive as plain dates).
"""

from __future__ import annotations

import re
from datetime import UTC as _UTC
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from domain.business_calendar import _zone

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PersonId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
_TURN = re.compile(r"^\s*(\d+)\s*(h|d|w)\s*$")
_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


def _turn(value: object) -> object:
    if isinstance(value, str) and _TURN.match(value) and int(_TURN.match(value).group(1)) > 0:
        return value
    raise ValueError(f"{value!r} is not a turn length; write e.g. 12h, 1d or 1w")


def _hhmm(value: object) -> object:
    if isinstance(value, str) and _HHMM.match(value):
        return value
    raise ValueError(f'{value!r} is not a quoted 24-hour "HH:MM" time')


Turn = Annotated[str, BeforeValidator(_turn)]
HHMM = Annotated[str, BeforeValidator(_hhmm)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def turn_length(text: str) -> timedelta:
    m = _TURN.match(text)
    assert m is not None, text
    n, unit = int(m.group(1)), m.group(2)
    return {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]


class Window(_Spec):
    """A weekly window (PagerDuty's restriction): from `start` on each of `days`, for
    `hours` of wall-clock time (a night window 18:00 + 13 h ends at 07:00 next day)."""

    days: list[Weekday] = Field(min_length=1)
    start: HHMM
    hours: float = Field(gt=0, le=168)

    def covers(self, moment: datetime, tz: str) -> bool:
        """Whether `moment` falls in one of the windows (opened up to 7 days before)."""
        wall = wall_time(moment, tz)
        start = time.fromisoformat(self.start)
        span = timedelta(hours=self.hours)
        for back in range(0, 8):
            day = wall.date() - timedelta(days=back)
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            opened = datetime.combine(day, start)
            if instant(opened, tz) <= moment < instant(opened + span, tz):
                return True
        return False


class Rotation(_Spec):
    """One layer: `people` take turns of `turn` from `start` (local wall time)."""

    start: datetime
    turn: Turn
    people: list[PersonId] = Field(min_length=1)
    windows: list[Window] = Field(default_factory=list)  # none: always on
    on_closed_days: bool = False  # also on for whole holidays / closure days

    @model_validator(mode="after")
    def _naive_start(self) -> Rotation:
        if self.start.tzinfo is not None:
            raise ValueError("start: write a local wall time without offset (the schedule's zone)")
        return self

    def turn_at(self, moment: datetime, tz: str) -> int | None:
        """The number of the turn under way at `moment` (0 = the first), None before start."""
        if moment < instant(self.start, tz):
            return None
        turn = turn_length(self.turn)
        guess = (wall_time(moment, tz) - self.start) // turn
        for k in (guess + 1, guess, guess - 1):
            if k >= 0 and instant(self.start + k * turn, tz) <= moment:
                return k
        return 0

    def person_at(self, moment: datetime, tz: str) -> int | None:
        k = self.turn_at(moment, tz)
        return None if k is None else k % len(self.people)

    def active(self, moment: datetime, tz: str, closed: frozenset[date]) -> bool:
        if not self.windows:
            return True
        if self.on_closed_days and wall_time(moment, tz).date() in closed:
            return True
        return any(w.covers(moment, tz) for w in self.windows)


class Override(_Spec):
    """`person` is on call from `start` to `end` (local wall times), whatever the layers say."""

    start: datetime
    end: datetime
    person: PersonId

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("start/end: write local wall times without offset")
        if self.end <= self.start:
            raise ValueError("end: must be after start")
        return self


class Schedule(_Spec):
    """An on-call schedule: layers (the last listed wins where it is active) and overrides."""

    id: PersonId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    rotations: list[Rotation] = Field(min_length=1)
    overrides: list[Override] = Field(default_factory=list)

    def people(self) -> set[str]:
        return {p for r in self.rotations for p in r.people} | {o.person for o in self.overrides}


def wall_time(moment: datetime, tz: str) -> datetime:
    """The naive local wall time of an aware instant."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    # Through UTC: astimezone() to the instant's own zone object would keep an impossible
    # wall time (02:30 on the spring-forward night) as it is.
    return moment.astimezone(_UTC).astimezone(_zone(tz)).replace(tzinfo=None)


def instant(wall: datetime, tz: str) -> datetime:
    """The first instant whose local wall time reaches `wall` (naive): the first occurrence
    of a repeated wall time, the changeover instant for one skipped by spring-forward."""
    zone = _zone(tz)
    first = wall.replace(tzinfo=zone, fold=0)
    if wall_time(first, tz) == wall:
        return first.astimezone(_UTC)
    # In a gap (at most a few hours wide): the first whole minute past it.
    moment = wall.replace(tzinfo=zone, fold=1).astimezone(_UTC).replace(second=0, microsecond=0)
    while wall_time(moment, tz) < wall:
        moment += timedelta(minutes=1)
    return moment


def _active_layer(
    schedule: Schedule, moment: datetime, tz: str, closed: frozenset[date]
) -> Rotation | None:
    for layer in reversed(schedule.rotations):
        if layer.turn_at(moment, tz) is not None and layer.active(moment, tz, closed):
            return layer
    return None


def on_call(schedule: Schedule, moment: datetime, tz: str, closed: frozenset[date]) -> str | None:
    """The person on call at `moment`, or None when no layer is active and no override."""
    for o in schedule.overrides:
        if instant(o.start, tz) <= moment < instant(o.end, tz):
            return o.person
    layer = _active_layer(schedule, moment, tz, closed)
    if layer is None:
        return None
    i = layer.person_at(moment, tz)
    assert i is not None
    return layer.people[i]


def escalation_chain(
    schedule: Schedule, moment: datetime, tz: str, closed: frozenset[date], depth: int
) -> list[str]:
    """Who to page in order: the person on call, then the next people of the active layer's
    rotation (the usual "next on the schedule"), `depth` people at most, each once."""
    chain: list[str] = []
    first = on_call(schedule, moment, tz, closed)
    if first is not None:
        chain.append(first)
    layer = _active_layer(schedule, moment, tz, closed)
    if layer is not None:
        i = layer.person_at(moment, tz)
        assert i is not None
        for k in range(len(layer.people)):
            person = layer.people[(i + k) % len(layer.people)]
            if person not in chain:
                chain.append(person)
    return chain[:depth]


class DeskHours(_Spec):
    """When a desk is open: `days` from `start` to `end` local time, closed on closed dates."""

    days: list[Weekday] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    start: HHMM = "07:00"
    end: HHMM = "18:00"

    @model_validator(mode="after")
    def _ordered(self) -> DeskHours:
        if self.end <= self.start:
            raise ValueError(f"end: must be after start ({self.start})")
        return self


def desk_open(hours: DeskHours, moment: datetime, tz: str, closed: frozenset[date]) -> bool:
    """Whether the desk is open at `moment` (Mon–Fri 07:00–18:00 for CPS; 18:00 is closed)."""
    wall = wall_time(moment, tz)
    if WEEKDAYS[wall.weekday()] not in hours.days or wall.date() in closed:
        return False
    return time.fromisoformat(hours.start) <= wall.time() < time.fromisoformat(hours.end)


def next_opening(hours: DeskHours, moment: datetime, tz: str, closed: frozenset[date]) -> datetime:
    """The next instant the desk opens after `moment` (for "CPS opens Monday at 7:00")."""
    wall = wall_time(moment, tz)
    start = time.fromisoformat(hours.start)
    for ahead in range(0, 400):
        day = wall.date() + timedelta(days=ahead)
        opening = datetime.combine(day, start)
        if opening <= wall or WEEKDAYS[day.weekday()] not in hours.days or day in closed:
            continue
        return instant(opening, tz)
    raise ValueError("the desk never opens in the next 400 days")
