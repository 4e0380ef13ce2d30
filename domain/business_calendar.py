"""Business-day arithmetic for refresh tickets (seed 001, Timeline 3 and 5).

Why this module is pure: workflows call it inside Temporal's deterministic sandbox, and a
replay must compute exactly the timers the original run computed. So nothing here does I/O,
reads the clock or the environment, or imports the ``holidays`` package. Holiday dates are
computed outside the sandbox (``domain.holiday_dates``, called from activities or the loader)
and travel into the workflow as plain dates inside :class:`BusinessCalendar`; an upgrade of
``holidays`` therefore changes only calendars built afterwards, never a running workflow.

The only outside input is the IANA time-zone database read through :mod:`zoneinfo`, which the
workflow needs to turn "10:05 in Detroit" into a UTC instant for a timer. It comes from the
host (system zoneinfo, else the ``tzdata`` package), so all workers should run the same tzdata.

Rules (DESIGN.md "Refresh ticket lifecycle" step 3 and 5):

* A business day is Monday to Friday and not in ``closed_dates`` (country holidays plus the
  university's configured closure and season days).
* Business hours are ``day_start`` to ``day_end`` local time (05:00-18:00).
* A moment belongs to the business day it falls on if that day is a business day and the local
  time is before ``day_end`` (so 04:30 on a Monday is Monday); otherwise it belongs to the next
  business day (after 18:00, weekends, holidays).
* The invite goes out at 10:05 local on the business day after the ticket's business day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_serializer, field_validator, model_validator

INVITE_TIME = time(10, 5)
"""Local wall-clock time of the invite and of day-before reminders ("10:05 AM" in the seed)."""

_SATURDAY = 5  # date.weekday(): Monday is 0, so 5 and 6 are the weekend.


@lru_cache(maxsize=32)
def _zone(key: str) -> ZoneInfo:
    """The real ``ZoneInfo`` for ``key``, also when this module is imported inside the sandbox.

    Temporal's sandbox (temporalio 1.x) wraps every object returned by calling ``ZoneInfo`` in a
    restricted proxy, and ``datetime`` refuses that proxy as a ``tzinfo`` ("tzinfo argument must
    be None or of a tzinfo subclass"). ``ZoneInfo.no_cache`` is not restricted and returns the
    plain object, so workflows work whether they import this module through the sandbox or with
    ``imports_passed_through``. ``no_cache`` skips zoneinfo's own cache, hence this one; zone data
    is immutable, so caching cannot affect determinism.
    """
    return ZoneInfo.no_cache(key)


class BusinessCalendar(BaseModel):
    """The university's business calendar, as a frozen value that can cross Temporal as JSON.

    It is a pydantic model (not a dataclass) because it travels inside other pydantic payloads
    through Temporal's pydantic data converter, and because validation of a bad time zone or
    hours belongs at the edge, not in the middle of a workflow run. ``closed_dates`` serializes
    as a sorted list so the same calendar always produces byte-identical JSON (set iteration
    order of dates depends on the process's hash seed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "America/Detroit"
    day_start: time = time(5, 0)
    day_end: time = time(18, 0)
    closed_dates: frozenset[date] = frozenset()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        """Refuse an unknown zone when the calendar is loaded, not when a timer is computed."""
        try:
            _zone(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @field_validator("day_start", "day_end")
    @classmethod
    def _naive_time(cls, value: time) -> time:
        """Hours are local wall-clock times; an offset on them would be meaningless here."""
        if value.tzinfo is not None:
            raise ValueError("business hours must be local times without an offset")
        return value

    @model_validator(mode="after")
    def _hours_in_order(self) -> BusinessCalendar:
        """An empty or inverted business day would make every moment roll forward forever."""
        if self.day_start >= self.day_end:
            raise ValueError(
                f"day_start {self.day_start.isoformat()} must be before "
                f"day_end {self.day_end.isoformat()}"
            )
        return self

    @field_serializer("closed_dates")
    def _sorted_dates(self, value: frozenset[date]) -> list[date]:
        """Sorted so equal calendars serialize identically regardless of hash seed."""
        return sorted(value)

    # -- days -----------------------------------------------------------------------------

    def is_business_day(self, d: date) -> bool:
        """Monday to Friday and not a holiday or configured closure/season day."""
        return d.weekday() < _SATURDAY and d not in self.closed_dates

    def next_business_day(self, d: date) -> date:
        """The first business day strictly after ``d`` (``d`` itself never counts)."""
        candidate = d + timedelta(days=1)
        while not self.is_business_day(candidate):
            candidate += timedelta(days=1)
        return candidate

    def business_day_before(self, d: date) -> date:
        """The last business day strictly before ``d``, e.g. for the day-before reminder."""
        candidate = d - timedelta(days=1)
        while not self.is_business_day(candidate):
            candidate -= timedelta(days=1)
        return candidate

    def add_business_days(self, d: date, n: int) -> date:
        """Step ``n`` business days from ``d``: forward for ``n > 0``, back for ``n < 0``.

        ``d`` need not be a business day: Saturday plus one is Monday. ``n == 0`` returns ``d``
        unchanged, so callers that need a business day should start from one (for example from
        :meth:`business_day_of`).
        """
        step = self.next_business_day if n >= 0 else self.business_day_before
        for _ in range(abs(n)):
            d = step(d)
        return d

    # -- moments --------------------------------------------------------------------------

    def _local(self, moment: datetime) -> datetime:
        """The moment in calendar-local time; naive input is refused.

        A naive datetime would be read as the *worker's* local time by ``astimezone``, which
        differs between machines and would break replay, so it is an error, not a guess.
        """
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"moment must be timezone-aware, got naive {moment.isoformat()}")
        return moment.astimezone(_zone(self.timezone))

    def at_local(self, d: date, t: time) -> datetime:
        """The aware UTC instant at which local wall-clock time ``t`` occurs on ``d``.

        DST is resolved with zoneinfo's ``fold=0`` semantics (``t``'s own fold is ignored):

        * nonexistent time (spring-forward gap, e.g. 02:30 on 2027-03-14 in Detroit) is read
          with the offset in force before the gap, so it lands as far past the gap's start as
          it was written (02:30 becomes 03:30 EDT, 07:30 UTC): the time moves forward;
        * ambiguous time (fall-back overlap, e.g. 01:30 on 2026-11-01) is the first occurrence,
          still on daylight time (01:30 EDT, 05:30 UTC).
        """
        if t.tzinfo is not None:
            raise ValueError("at_local expects a local wall-clock time without an offset")
        local = datetime.combine(d, t.replace(fold=0), tzinfo=_zone(self.timezone))
        return local.astimezone(UTC)

    def business_day_of(self, moment: datetime) -> date:
        """The business day a moment counts toward.

        Its own local date if that is a business day and the local time is before ``day_end``
        (early morning before ``day_start`` still counts as that day); otherwise the next
        business day (after hours, weekends, holidays, closures).
        """
        local = self._local(moment)
        today = local.date()
        if self.is_business_day(today) and local.time() < self.day_end:
            return today
        return self.next_business_day(today)

    def is_business_hours(self, moment: datetime) -> bool:
        """Whether a moment falls on a business day between ``day_start`` and ``day_end``."""
        local = self._local(moment)
        return self.is_business_day(local.date()) and (
            self.day_start <= local.time() < self.day_end
        )

    def invite_time(self, created: datetime) -> datetime:
        """When a customer ticket created at ``created`` sends its invite (UTC).

        10:05 local on the business day after the ticket's business day: created Monday 09:00
        invites Tuesday 10:05; created Monday 18:00 or Saturday belongs to Monday (or the next
        open day) and so invites the business day after that.
        """
        day = self.next_business_day(self.business_day_of(created))
        return self.at_local(day, INVITE_TIME)

    def business_days_after(self, start: datetime, n: int) -> datetime:
        """The same local wall-clock time, ``n`` business days after ``start``'s business day.

        Used for the wizard reminders at 5 and 10 business days and the 14-business-day
        deadline, counted from the invite, so they arrive at the invite's time of day even
        across a DST change (the UTC offset of the result is that of its own date).
        """
        local = self._local(start)
        day = self.add_business_days(self.business_day_of(start), n)
        return self.at_local(day, local.time())

    def reminder_time(self, day1: datetime) -> datetime:
        """10:05 local on the business day before day 1's local date (appointment reminder)."""
        return self.at_local(self.business_day_before(self._local(day1).date()), INVITE_TIME)
