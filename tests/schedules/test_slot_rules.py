"""The pure rules: which slots exist (business days, DST) and what a preference list may hold."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.business_calendar import BusinessCalendar
from domain.slot_generation import (
    SlotRule,
    first_day_to_generate,
    generation_window,
    planned_slots,
    preference_problems,
)

TZ = ZoneInfo("America/Detroit")
CAL = BusinessCalendar(closed_dates=frozenset({date(2027, 3, 12), date(2027, 11, 25)}))


def rule(weekday: int, start: str, minutes: int = 60, capacity: int = 2, where: str = "Depot"):
    return SlotRule(
        team_id="t",
        weekday=weekday,
        start=time.fromisoformat(start),
        length_minutes=minutes,
        capacity=capacity,
        location=where,
    )


def test_slots_follow_local_time_across_both_dst_changes():
    rules = [rule(0, "09:00"), rule(4, "16:30", minutes=90, capacity=1)]
    # Spring forward 2027-03-14 (Sunday), fall back 2027-11-07 (Sunday).
    slots = planned_slots(rules, CAL, date(2027, 3, 8), date(2027, 3, 19))
    assert [
        (s.start_at.astimezone(TZ).strftime("%a %m-%d %H:%M"), s.start_at.hour) for s in slots
    ] == [
        ("Mon 03-08 09:00", 14),  # EST: UTC-5
        # Friday 03-12 is a closed day
        ("Mon 03-15 09:00", 13),  # EDT: UTC-4
        ("Fri 03-19 16:30", 20),
    ]
    friday = slots[-1]
    assert friday.end_at - friday.start_at == timedelta(minutes=90) and friday.capacity == 1
    autumn = planned_slots([rule(0, "09:00")], CAL, date(2027, 11, 1), date(2027, 11, 8))
    assert [s.start_at.hour for s in autumn] == [14 - 1, 14]  # 13:00 UTC (EDT), 14:00 UTC (EST)
    assert all(s.start_at.astimezone(TZ).time() == time(9) for s in autumn)


def test_never_on_weekends_holidays_or_closed_days():
    every_day = [rule(d, "10:00") for d in range(7)]
    slots = planned_slots(every_day, CAL, date(2027, 11, 22), date(2027, 11, 28))
    days = [s.start_at.astimezone(TZ).date() for s in slots]
    assert days == [date(2027, 11, 22), date(2027, 11, 23), date(2027, 11, 24), date(2027, 11, 26)]


def test_window_and_where_tonight_starts():
    now = datetime(2027, 3, 2, 5, 30, tzinfo=UTC)  # 00:30 on Tuesday 03-02 in Detroit
    assert generation_window(now, "America/Detroit") == (date(2027, 3, 2), date(2027, 4, 6))
    late = datetime(2027, 3, 2, 4, 30, tzinfo=UTC)  # still Monday 23:30 in Detroit
    assert generation_window(late, "America/Detroit")[0] == date(2027, 3, 1)
    today = date(2027, 3, 2)
    assert first_day_to_generate(today, None, "America/Detroit") == today
    newest = datetime(2027, 4, 5, 13, 0, tzinfo=UTC)
    assert first_day_to_generate(today, newest, "America/Detroit") == date(2027, 4, 6)
    old = datetime(2027, 2, 1, 13, 0, tzinfo=UTC)
    assert first_day_to_generate(today, old, "America/Detroit") == today


def test_preference_problems():
    ok = [rule(0, "09:00"), rule(0, "10:00"), rule(0, "09:30", where="Other"), rule(2, "09:00")]
    assert preference_problems(ok, CAL) == []
    bad = [
        rule(0, "09:00"),
        rule(0, "09:00", capacity=5),  # same start
        rule(0, "09:30"),  # overlaps 09:00-10:00 at the same location
        rule(5, "10:00"),  # Saturday
        rule(1, "17:30"),  # ends 18:30, after business hours
        rule(2, "04:00"),  # before 05:00
        rule(3, "23:30", minutes=60),  # past midnight
    ]
    problems = preference_problems(bad, CAL)
    assert [(i, f) for i, f, _ in problems] == [
        (1, "start"),
        (2, "start"),
        (3, "weekday"),
        (4, "start"),
        (5, "start"),
        (6, "length_minutes"),
    ]
    messages = dict(((i, m) for i, _, m in problems))
    assert "already starts mon 09:00" in messages[1]
    assert "overlaps mon 09:00-10:00 at Depot" in messages[2]
    assert "sat is never a business day" in messages[3]
    assert "outside business hours 05:00-18:00" in messages[4]
