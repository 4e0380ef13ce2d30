"""Table-driven tests for the business calendar (seed 001, Timeline 3 and 5).

The calendar is the one the design's YAML declares: America/Detroit, business hours 05:00-18:00,
US holidays for 2026-2027 from the ``holidays`` package, plus university closures 2026-12-24 and
2026-12-31. Expected values are written as literal local or UTC datetimes (never computed with
the code under test) so a wrong offset or a skipped holiday shows up as a plain mismatch.
"""

from __future__ import annotations

import ast
import sys
import uuid
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from domain import business_calendar
from domain.business_calendar import BusinessCalendar
from domain.holiday_dates import closed_dates_for

DETROIT = ZoneInfo("America/Detroit")
UNIVERSITY_CLOSED = (date(2026, 12, 24), date(2026, 12, 31))


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> datetime:
    """An aware Detroit wall-clock datetime, the way a person would state a case."""
    return datetime(y, mo, d, h, mi, tzinfo=DETROIT, fold=fold)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """An aware UTC datetime, for cases where the exact instant (offset) is the point."""
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    """The calendar block from DESIGN.md, with holidays computed outside the pure module."""
    return BusinessCalendar(
        timezone="America/Detroit",
        day_start=time(5, 0),
        day_end=time(18, 0),
        closed_dates=closed_dates_for("US", None, range(2026, 2028), UNIVERSITY_CLOSED),
    )


# -- invite: 10:05 on the next business day after the business day of creation ----------------

INVITE_CASES = [
    # Ordinary week (Mon 2026-04-13).
    pytest.param(local(2026, 4, 13, 9, 0), local(2026, 4, 14, 10, 5), id="mon-0900-to-tue"),
    pytest.param(local(2026, 4, 13, 17, 59), local(2026, 4, 14, 10, 5), id="mon-1759-to-tue"),
    pytest.param(local(2026, 4, 13, 18, 0), local(2026, 4, 15, 10, 5), id="mon-1800-to-wed"),
    pytest.param(local(2026, 4, 13, 23, 30), local(2026, 4, 15, 10, 5), id="mon-2330-to-wed"),
    pytest.param(local(2026, 4, 13, 4, 30), local(2026, 4, 14, 10, 5), id="mon-0430-to-tue"),
    pytest.param(local(2026, 4, 13, 0, 0), local(2026, 4, 14, 10, 5), id="mon-midnight-to-tue"),
    pytest.param(local(2026, 4, 14, 10, 5), local(2026, 4, 15, 10, 5), id="tue-1005-to-wed"),
    pytest.param(local(2026, 4, 17, 14, 0), local(2026, 4, 20, 10, 5), id="fri-afternoon-to-mon"),
    pytest.param(local(2026, 4, 17, 18, 30), local(2026, 4, 21, 10, 5), id="fri-evening-to-tue"),
    pytest.param(local(2026, 4, 18, 10, 0), local(2026, 4, 21, 10, 5), id="sat-to-tue"),
    pytest.param(local(2026, 4, 19, 22, 0), local(2026, 4, 21, 10, 5), id="sun-to-tue"),
    # UTC input whose UTC date differs from the local date: Fri 22:00 EDT is Sat 02:00 UTC.
    pytest.param(utc(2026, 4, 18, 2, 0), local(2026, 4, 21, 10, 5), id="utc-input-fri-evening"),
    # Friday holiday: Independence Day observed Fri 2026-07-03.
    pytest.param(local(2026, 7, 2, 10, 0), local(2026, 7, 6, 10, 5), id="thu-before-fri-holiday"),
    pytest.param(local(2026, 7, 2, 19, 0), local(2026, 7, 7, 10, 5), id="thu-eve-fri-holiday"),
    pytest.param(local(2026, 7, 3, 10, 0), local(2026, 7, 7, 10, 5), id="on-fri-holiday"),
    # Monday holidays: Labor Day 2026-09-07, MLK Day 2027-01-18.
    pytest.param(local(2026, 9, 4, 9, 0), local(2026, 9, 8, 10, 5), id="fri-before-labor-day"),
    pytest.param(local(2026, 9, 5, 12, 0), local(2026, 9, 9, 10, 5), id="sat-before-labor-day"),
    pytest.param(local(2026, 9, 7, 9, 0), local(2026, 9, 9, 10, 5), id="on-labor-day"),
    pytest.param(local(2027, 1, 15, 12, 0), local(2027, 1, 19, 10, 5), id="fri-before-mlk"),
    pytest.param(local(2027, 1, 17, 12, 0), local(2027, 1, 20, 10, 5), id="sun-before-mlk"),
    # Thanksgiving week: Thu 2026-11-26 closed, Friday open (no university closure configured).
    pytest.param(local(2026, 11, 24, 10, 0), local(2026, 11, 25, 10, 5), id="thanksgiving-tue"),
    pytest.param(local(2026, 11, 25, 10, 0), local(2026, 11, 27, 10, 5), id="thanksgiving-wed"),
    pytest.param(local(2026, 11, 25, 18, 30), local(2026, 11, 30, 10, 5), id="thanksgiving-eve"),
    pytest.param(local(2026, 11, 26, 9, 0), local(2026, 11, 30, 10, 5), id="thanksgiving-thu"),
    # Year end: 24 (closure), 25 (Christmas), weekend, 31 (closure), 2027-01-01, weekend.
    pytest.param(local(2026, 12, 23, 10, 0), local(2026, 12, 28, 10, 5), id="dec-23-to-dec-28"),
    pytest.param(local(2026, 12, 23, 18, 30), local(2026, 12, 29, 10, 5), id="dec-23-eve"),
    pytest.param(local(2026, 12, 24, 9, 0), local(2026, 12, 29, 10, 5), id="dec-24-closure"),
    pytest.param(local(2026, 12, 30, 10, 0), local(2027, 1, 4, 10, 5), id="dec-30-to-jan-4"),
    pytest.param(local(2026, 12, 30, 18, 0), local(2027, 1, 5, 10, 5), id="dec-30-eve-to-jan-5"),
    pytest.param(local(2027, 1, 1, 12, 0), local(2027, 1, 5, 10, 5), id="new-years-day"),
    # DST spring forward (Sun 2027-03-14): EST is UTC-5, EDT is UTC-4.
    pytest.param(local(2027, 3, 11, 9, 0), utc(2027, 3, 12, 15, 5), id="dst-spring-thu-est"),
    pytest.param(local(2027, 3, 12, 9, 0), utc(2027, 3, 15, 14, 5), id="dst-spring-fri-to-edt"),
    pytest.param(local(2027, 3, 13, 9, 0), utc(2027, 3, 16, 14, 5), id="dst-spring-sat"),
    pytest.param(local(2027, 3, 14, 3, 30), utc(2027, 3, 16, 14, 5), id="dst-spring-sun-0330"),
    # DST fall back (Sun 2026-11-01): 01:30 happens twice; either way it is Sunday.
    pytest.param(local(2026, 10, 29, 9, 0), utc(2026, 10, 30, 14, 5), id="dst-fall-thu-edt"),
    pytest.param(local(2026, 10, 30, 9, 0), utc(2026, 11, 2, 15, 5), id="dst-fall-fri-to-est"),
    pytest.param(local(2026, 11, 1, 1, 30), utc(2026, 11, 3, 15, 5), id="dst-fall-sun-0130-first"),
    pytest.param(
        local(2026, 11, 1, 1, 30, fold=1), utc(2026, 11, 3, 15, 5), id="dst-fall-sun-0130-second"
    ),
]


@pytest.mark.parametrize(("created", "expected"), INVITE_CASES)
def test_invite_time(cal: BusinessCalendar, created: datetime, expected: datetime) -> None:
    got = cal.invite_time(created)
    assert got == expected
    assert got.tzinfo is UTC
    assert got.astimezone(DETROIT).time() == time(10, 5)


# -- business day of a moment ------------------------------------------------------------------

BUSINESS_DAY_OF_CASES = [
    pytest.param(local(2026, 4, 13, 4, 30), date(2026, 4, 13), id="mon-0430-is-mon"),
    pytest.param(local(2026, 4, 13, 9, 0), date(2026, 4, 13), id="mon-0900-is-mon"),
    pytest.param(local(2026, 4, 13, 17, 59), date(2026, 4, 13), id="mon-1759-is-mon"),
    pytest.param(local(2026, 4, 13, 18, 0), date(2026, 4, 14), id="mon-1800-is-tue"),
    pytest.param(local(2026, 4, 13, 23, 30), date(2026, 4, 14), id="mon-2330-is-tue"),
    pytest.param(local(2026, 4, 18, 10, 0), date(2026, 4, 20), id="sat-is-mon"),
    pytest.param(local(2026, 4, 19, 10, 0), date(2026, 4, 20), id="sun-is-mon"),
    pytest.param(local(2026, 9, 7, 10, 0), date(2026, 9, 8), id="labor-day-is-tue"),
    pytest.param(local(2026, 12, 24, 10, 0), date(2026, 12, 28), id="closure-is-next-open"),
    pytest.param(utc(2026, 4, 13, 8, 0), date(2026, 4, 13), id="utc-0800-is-mon-0400-local"),
    pytest.param(utc(2026, 4, 13, 22, 0), date(2026, 4, 14), id="utc-2200-is-mon-1800-local"),
    pytest.param(utc(2026, 4, 14, 3, 0), date(2026, 4, 14), id="utc-tue-0300-is-mon-eve"),
]


@pytest.mark.parametrize(("moment", "expected"), BUSINESS_DAY_OF_CASES)
def test_business_day_of(cal: BusinessCalendar, moment: datetime, expected: date) -> None:
    assert cal.business_day_of(moment) == expected


# -- business hours ----------------------------------------------------------------------------

BUSINESS_HOURS_CASES = [
    pytest.param(local(2026, 4, 13, 4, 59), False, id="mon-0459"),
    pytest.param(local(2026, 4, 13, 5, 0), True, id="mon-0500"),
    pytest.param(local(2026, 4, 13, 12, 0), True, id="mon-noon"),
    pytest.param(local(2026, 4, 13, 17, 59), True, id="mon-1759"),
    pytest.param(local(2026, 4, 13, 18, 0), False, id="mon-1800"),
    pytest.param(local(2026, 4, 18, 10, 0), False, id="saturday"),
    pytest.param(local(2026, 11, 26, 10, 0), False, id="thanksgiving"),
    pytest.param(local(2026, 12, 24, 10, 0), False, id="university-closure"),
    pytest.param(utc(2026, 4, 13, 9, 0), True, id="utc-0900-is-0500-edt"),
    pytest.param(utc(2026, 12, 1, 9, 30), False, id="utc-0930-is-0430-est"),
]


@pytest.mark.parametrize(("moment", "expected"), BUSINESS_HOURS_CASES)
def test_is_business_hours(cal: BusinessCalendar, moment: datetime, expected: bool) -> None:
    assert cal.is_business_hours(moment) is expected


# -- day arithmetic ----------------------------------------------------------------------------

IS_BUSINESS_DAY_CASES = [
    pytest.param(date(2026, 4, 13), True, id="monday"),
    pytest.param(date(2026, 4, 18), False, id="saturday"),
    pytest.param(date(2026, 4, 19), False, id="sunday"),
    pytest.param(date(2026, 7, 3), False, id="independence-day-observed"),
    pytest.param(date(2026, 11, 26), False, id="thanksgiving"),
    pytest.param(date(2026, 11, 27), True, id="day-after-thanksgiving"),
    pytest.param(date(2026, 12, 24), False, id="closure-dec-24"),
    pytest.param(date(2026, 12, 31), False, id="closure-dec-31"),
    pytest.param(date(2027, 1, 18), False, id="mlk-2027"),
]


@pytest.mark.parametrize(("d", "expected"), IS_BUSINESS_DAY_CASES)
def test_is_business_day(cal: BusinessCalendar, d: date, expected: bool) -> None:
    assert cal.is_business_day(d) is expected


NEXT_BUSINESS_DAY_CASES = [
    pytest.param(date(2026, 4, 13), date(2026, 4, 14), id="mon-to-tue"),
    pytest.param(date(2026, 4, 17), date(2026, 4, 20), id="fri-to-mon"),
    pytest.param(date(2026, 4, 18), date(2026, 4, 20), id="sat-to-mon"),
    pytest.param(date(2026, 7, 2), date(2026, 7, 6), id="over-fri-holiday"),
    pytest.param(date(2026, 9, 4), date(2026, 9, 8), id="over-labor-day"),
    pytest.param(date(2026, 12, 23), date(2026, 12, 28), id="over-christmas"),
    pytest.param(date(2026, 12, 30), date(2027, 1, 4), id="over-new-year"),
]


@pytest.mark.parametrize(("d", "expected"), NEXT_BUSINESS_DAY_CASES)
def test_next_business_day(cal: BusinessCalendar, d: date, expected: date) -> None:
    assert cal.next_business_day(d) == expected


BUSINESS_DAY_BEFORE_CASES = [
    pytest.param(date(2026, 4, 14), date(2026, 4, 13), id="tue-to-mon"),
    pytest.param(date(2026, 4, 20), date(2026, 4, 17), id="mon-to-fri"),
    pytest.param(date(2026, 7, 6), date(2026, 7, 2), id="mon-after-fri-holiday-to-thu"),
    pytest.param(date(2026, 9, 8), date(2026, 9, 4), id="tue-after-labor-day-to-fri"),
    pytest.param(date(2026, 11, 27), date(2026, 11, 25), id="over-thanksgiving"),
    pytest.param(date(2027, 1, 4), date(2026, 12, 30), id="over-new-year"),
]


@pytest.mark.parametrize(("d", "expected"), BUSINESS_DAY_BEFORE_CASES)
def test_business_day_before(cal: BusinessCalendar, d: date, expected: date) -> None:
    assert cal.business_day_before(d) == expected


ADD_BUSINESS_DAYS_CASES = [
    pytest.param(date(2026, 4, 13), 0, date(2026, 4, 13), id="zero"),
    pytest.param(date(2026, 4, 13), 5, date(2026, 4, 20), id="plain-week"),
    pytest.param(date(2026, 4, 18), 1, date(2026, 4, 20), id="sat-plus-one-is-mon"),
    pytest.param(date(2026, 7, 2), 1, date(2026, 7, 6), id="over-independence-day"),
    pytest.param(date(2026, 9, 3), 2, date(2026, 9, 8), id="over-labor-day"),
    pytest.param(date(2026, 11, 25), 1, date(2026, 11, 27), id="over-thanksgiving"),
    pytest.param(date(2026, 12, 23), 1, date(2026, 12, 28), id="dec-23-plus-1"),
    pytest.param(date(2026, 12, 23), 4, date(2027, 1, 4), id="dec-23-plus-4-skips-year-end"),
    pytest.param(date(2027, 1, 15), 1, date(2027, 1, 19), id="over-mlk"),
    pytest.param(date(2027, 1, 4), -1, date(2026, 12, 30), id="minus-1-over-new-year"),
    pytest.param(date(2026, 9, 8), -1, date(2026, 9, 4), id="minus-1-over-labor-day"),
]


@pytest.mark.parametrize(("d", "n", "expected"), ADD_BUSINESS_DAYS_CASES)
def test_add_business_days(cal: BusinessCalendar, d: date, n: int, expected: date) -> None:
    assert cal.add_business_days(d, n) == expected


# -- wizard reminders (5, 10) and deadline (14) counted from the invite -------------------------

REMINDER_CASES = [
    pytest.param(
        local(2026, 4, 14, 10, 5),
        (local(2026, 4, 21, 10, 5), local(2026, 4, 28, 10, 5), local(2026, 5, 4, 10, 5)),
        id="plain-weeks",
    ),
    pytest.param(
        local(2026, 11, 17, 10, 5),
        (local(2026, 11, 24, 10, 5), local(2026, 12, 2, 10, 5), local(2026, 12, 8, 10, 5)),
        id="thanksgiving",
    ),
    pytest.param(
        local(2026, 12, 14, 10, 5),
        (local(2026, 12, 21, 10, 5), local(2026, 12, 30, 10, 5), local(2027, 1, 7, 10, 5)),
        id="year-end",
    ),
    pytest.param(
        local(2027, 1, 12, 10, 5),
        (local(2027, 1, 20, 10, 5), local(2027, 1, 27, 10, 5), local(2027, 2, 2, 10, 5)),
        id="mlk-2027",
    ),
    pytest.param(
        utc(2027, 3, 9, 15, 5),  # 10:05 EST
        (utc(2027, 3, 16, 14, 5), utc(2027, 3, 23, 14, 5), utc(2027, 3, 29, 14, 5)),  # EDT
        id="dst-spring-forward",
    ),
    pytest.param(
        utc(2026, 10, 27, 14, 5),  # 10:05 EDT; Veterans Day Wed 2026-11-11 is closed
        (utc(2026, 11, 3, 15, 5), utc(2026, 11, 10, 15, 5), utc(2026, 11, 17, 15, 5)),  # EST
        id="dst-fall-back-and-veterans-day",
    ),
]


@pytest.mark.parametrize(("invite", "expected"), REMINDER_CASES)
def test_wizard_reminders_5_10_14(
    cal: BusinessCalendar, invite: datetime, expected: tuple[datetime, datetime, datetime]
) -> None:
    got = tuple(cal.business_days_after(invite, n) for n in (5, 10, 14))
    assert got == expected
    assert all(g.tzinfo is UTC for g in got)


def test_business_days_after_keeps_wall_time_from_non_business_start(
    cal: BusinessCalendar,
) -> None:
    # Saturday 11:30 belongs to Monday; one business day later is Tuesday at 11:30 local.
    assert cal.business_days_after(local(2026, 4, 18, 11, 30), 1) == local(2026, 4, 21, 11, 30)


# -- appointment reminder: 10:05 on the business day before day 1 -----------------------------

DAY1_REMINDER_CASES = [
    pytest.param(local(2026, 4, 20, 9, 0), local(2026, 4, 17, 10, 5), id="mon-day1-fri"),
    pytest.param(local(2026, 4, 15, 13, 0), local(2026, 4, 14, 10, 5), id="wed-day1-tue"),
    pytest.param(local(2026, 7, 6, 9, 0), local(2026, 7, 2, 10, 5), id="fri-closed-thu"),
    pytest.param(local(2026, 9, 8, 9, 0), local(2026, 9, 4, 10, 5), id="after-labor-day"),
    pytest.param(local(2027, 1, 4, 9, 0), local(2026, 12, 30, 10, 5), id="after-year-end"),
    pytest.param(local(2026, 4, 20, 0, 0), local(2026, 4, 17, 10, 5), id="generic-midnight"),
    # Mon 22:00 EDT is Tue 02:00 UTC: the local date (Monday) decides.
    pytest.param(utc(2026, 4, 21, 2, 0), local(2026, 4, 17, 10, 5), id="utc-input-local-date"),
    pytest.param(local(2026, 11, 2, 9, 0), utc(2026, 10, 30, 14, 5), id="dst-fall-edt-friday"),
    pytest.param(local(2027, 3, 15, 9, 0), utc(2027, 3, 12, 15, 5), id="dst-spring-est-friday"),
]


@pytest.mark.parametrize(("day1", "expected"), DAY1_REMINDER_CASES)
def test_reminder_time(cal: BusinessCalendar, day1: datetime, expected: datetime) -> None:
    got = cal.reminder_time(day1)
    assert got == expected
    assert got.tzinfo is UTC


# -- local wall time to UTC, across DST --------------------------------------------------------

AT_LOCAL_CASES = [
    pytest.param(date(2026, 4, 14), time(10, 5), utc(2026, 4, 14, 14, 5), id="edt-minus-4"),
    pytest.param(date(2026, 12, 1), time(10, 5), utc(2026, 12, 1, 15, 5), id="est-minus-5"),
    pytest.param(date(2027, 3, 14), time(1, 59), utc(2027, 3, 14, 6, 59), id="before-gap"),
    pytest.param(date(2027, 3, 14), time(2, 30), utc(2027, 3, 14, 7, 30), id="gap-moves-forward"),
    pytest.param(date(2027, 3, 14), time(3, 0), utc(2027, 3, 14, 7, 0), id="after-gap"),
    pytest.param(date(2027, 3, 15), time(10, 5), utc(2027, 3, 15, 14, 5), id="monday-after-gap"),
    pytest.param(date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), id="overlap-first"),
    pytest.param(
        date(2026, 11, 1), time(1, 30, fold=1), utc(2026, 11, 1, 5, 30), id="overlap-fold-ignored"
    ),
    pytest.param(date(2026, 11, 1), time(2, 0), utc(2026, 11, 1, 7, 0), id="after-overlap"),
    pytest.param(date(2026, 11, 2), time(10, 5), utc(2026, 11, 2, 15, 5), id="monday-after-fall"),
]


@pytest.mark.parametrize(("d", "t", "expected"), AT_LOCAL_CASES)
def test_at_local(cal: BusinessCalendar, d: date, t: time, expected: datetime) -> None:
    got = cal.at_local(d, t)
    assert got == expected
    assert got.tzinfo is UTC


def test_gap_time_lands_after_the_gap(cal: BusinessCalendar) -> None:
    # 02:30 does not exist on 2027-03-14; it must come out as 03:30 EDT, never 01:30 EST.
    assert cal.at_local(date(2027, 3, 14), time(2, 30)).astimezone(DETROIT).time() == time(3, 30)


# -- input guards --------------------------------------------------------------------------------

NAIVE_CASES = [
    pytest.param("business_day_of", id="business_day_of"),
    pytest.param("is_business_hours", id="is_business_hours"),
    pytest.param("invite_time", id="invite_time"),
    pytest.param("reminder_time", id="reminder_time"),
]


@pytest.mark.parametrize("method", NAIVE_CASES)
def test_naive_datetimes_are_refused(cal: BusinessCalendar, method: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        getattr(cal, method)(datetime(2026, 4, 13, 9, 0))


def test_naive_start_refused_for_business_days_after(cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.business_days_after(datetime(2026, 4, 13, 9, 0), 5)


# -- holiday dates (outside the sandbox) ---------------------------------------------------------

US_2026_2027 = closed_dates_for("US", None, range(2026, 2028), UNIVERSITY_CLOSED)

HOLIDAY_CASES = [
    pytest.param(date(2026, 11, 26), True, id="thanksgiving-2026"),
    pytest.param(date(2026, 12, 25), True, id="christmas-2026"),
    pytest.param(date(2026, 7, 3), True, id="independence-day-observed-2026"),
    pytest.param(date(2026, 9, 7), True, id="labor-day-2026"),
    pytest.param(date(2027, 1, 1), True, id="new-year-2027"),
    pytest.param(date(2027, 1, 18), True, id="mlk-2027"),
    pytest.param(date(2026, 12, 24), True, id="extra-dec-24"),
    pytest.param(date(2026, 12, 31), True, id="extra-dec-31"),
    pytest.param(date(2026, 11, 27), False, id="day-after-thanksgiving"),
    pytest.param(date(2026, 4, 14), False, id="ordinary-tuesday"),
    pytest.param(date(2028, 1, 17), False, id="outside-years"),
]


@pytest.mark.parametrize(("d", "closed"), HOLIDAY_CASES)
def test_closed_dates_for_us(d: date, closed: bool) -> None:
    assert (d in US_2026_2027) is closed


def test_closed_dates_for_no_country_is_only_extra() -> None:
    assert closed_dates_for(None, None, range(2026, 2028), UNIVERSITY_CLOSED) == frozenset(
        UNIVERSITY_CLOSED
    )


BAD_HOLIDAY_ARGS = [
    pytest.param("XX", None, "unknown holiday country", id="unknown-country"),
    pytest.param("US", "ZZ", "unknown holiday country/subdivision", id="unknown-subdivision"),
    pytest.param(None, "MI", "without a country", id="subdivision-without-country"),
]


@pytest.mark.parametrize(("country", "subdivision", "message"), BAD_HOLIDAY_ARGS)
def test_closed_dates_for_refuses_bad_input(
    country: str | None, subdivision: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        closed_dates_for(country, subdivision, range(2026, 2027), ())


# -- serialization and validation ----------------------------------------------------------------


class _Carrier(BaseModel):
    """Stands in for a workflow input that embeds the calendar."""

    calendar: BusinessCalendar


def test_calendar_round_trips_through_json(cal: BusinessCalendar) -> None:
    raw = cal.model_dump_json()
    back = BusinessCalendar.model_validate_json(raw)
    assert back == cal
    assert back.closed_dates == cal.closed_dates
    assert back.model_dump_json() == raw
    assert back.invite_time(local(2026, 12, 23, 10, 0)) == cal.invite_time(
        local(2026, 12, 23, 10, 0)
    )


def test_calendar_round_trips_nested(cal: BusinessCalendar) -> None:
    carrier = _Carrier(calendar=cal)
    assert _Carrier.model_validate_json(carrier.model_dump_json()) == carrier


def test_closed_dates_serialize_sorted(cal: BusinessCalendar) -> None:
    dumped = cal.model_dump(mode="json")["closed_dates"]
    assert dumped == sorted(dumped)
    assert "2026-12-24" in dumped


def test_calendar_accepts_yaml_shaped_input() -> None:
    parsed = BusinessCalendar.model_validate(
        {
            "timezone": "America/Detroit",
            "day_start": "05:00",
            "day_end": "18:00",
            "closed_dates": ["2026-12-24", "2026-12-31"],
        }
    )
    assert parsed.closed_dates == frozenset(UNIVERSITY_CLOSED)
    assert parsed.day_end == time(18, 0)


INVALID_CALENDARS = [
    pytest.param({"timezone": "America/Nowhere"}, id="unknown-timezone"),
    pytest.param({"day_start": "18:00", "day_end": "05:00"}, id="inverted-hours"),
    pytest.param({"day_start": "09:00", "day_end": "09:00"}, id="empty-hours"),
    pytest.param({"holidays": []}, id="unknown-field"),
]


@pytest.mark.parametrize("data", INVALID_CALENDARS)
def test_invalid_calendar_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        BusinessCalendar.model_validate(data)


def test_calendar_is_frozen_and_hashable(cal: BusinessCalendar) -> None:
    with pytest.raises(ValidationError):
        cal.timezone = "UTC"  # type: ignore[misc]
    assert hash(cal) == hash(BusinessCalendar.model_validate_json(cal.model_dump_json()))


# -- purity guard ----------------------------------------------------------------------------------

ALLOWED_IMPORTS = {"__future__", "datetime", "functools", "zoneinfo", "pydantic"}


def test_business_calendar_module_imports_nothing_impure() -> None:
    """The sandboxed module may import only stdlib time/caching modules and pydantic.

    In particular never ``holidays`` (its rules change between releases and would change a
    replay) and nothing that does I/O.
    """
    tree = ast.parse(Path(business_calendar.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS


# -- inside Temporal's workflow sandbox --------------------------------------------------------


@workflow.defn(sandboxed=True, failure_exception_types=[Exception])
class _SandboxProbe:
    """Runs the calendar in the real workflow sandbox, importing it *through* the sandbox.

    The test module itself is passed through (its module-level Detroit datetimes would not build
    in the sandbox), so the import inside ``run`` is a fresh, restricted, sandboxed import of
    ``domain.business_calendar``: the path a workflow takes when it does not pass ``domain``
    through, and the one where a plain ``ZoneInfo(key)`` comes back as an unusable proxy.
    Any exception fails the workflow (not just the task) so a regression fails fast here
    instead of retrying the workflow task forever.
    """

    @workflow.run
    async def run(self, calendar_json: str) -> list[str]:
        from domain.business_calendar import BusinessCalendar as SandboxedCalendar

        sandboxed = SandboxedCalendar.model_validate_json(calendar_json)
        created = workflow.now()
        invite = sandboxed.invite_time(created)
        return [
            created.isoformat(),
            invite.isoformat(),
            sandboxed.business_days_after(invite, 5).isoformat(),
            sandboxed.reminder_time(invite).isoformat(),
        ]


@pytest.mark.filterwarnings("ignore:Module domain.business_calendar was imported after")
async def test_calendar_runs_in_temporal_sandbox(cal: BusinessCalendar) -> None:
    server = Path(sys.executable).parent / "temporal-test-server"
    if not server.exists():
        pytest.skip(f"no Temporal test server at {server}")
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(__name__)
    )
    async with (
        await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(server)) as env,
        Worker(
            env.client,
            task_queue="calendar-probe",
            workflows=[_SandboxProbe],
            workflow_runner=runner,
        ),
    ):
        got = await env.client.execute_workflow(
            _SandboxProbe.run,
            cal.model_dump_json(),
            id=f"calendar-probe-{uuid.uuid4()}",
            task_queue="calendar-probe",
        )
    created = datetime.fromisoformat(got[0])
    invite = cal.invite_time(created)
    assert got[1:] == [
        invite.isoformat(),
        cal.business_days_after(invite, 5).isoformat(),
        cal.reminder_time(invite).isoformat(),
    ]
