"""Who is on call, and is CPS open: table tests on the tests' schedules (Detroit), DST nights
minute by minute, and properties over random schedules and zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.after_hours import AfterHoursDesk, AfterHoursSpec
from domain.holiday_dates import closed_dates_for
from domain.on_call import (
    Rotation,
    Schedule,
    desk_open,
    escalation_chain,
    instant,
    next_opening,
    on_call,
)

TZ = "America/Detroit"
SPEC = AfterHoursSpec.model_validate(
    yaml.safe_load((Path(__file__).parent.parent / "after_hours" / "after_hours.yaml").read_text())[
        "after_hours"
    ]
)
CLOSED = closed_dates_for("US", None, range(2025, 2028), SPEC.closed_days)
DESK = AfterHoursDesk(spec=SPEC, timezone=TZ, closed=CLOSED)
AIMS = DESK.schedule("aims")
GDS = DESK.schedule("gds")


def at(y: int, m: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=ZoneInfo(TZ))


@pytest.mark.parametrize(
    ("moment", "cps_open", "aims", "gds"),
    [
        # GDS: daily turns from 2026-01-01 07:00, Erin on even days (Dec 11 = day 344).
        # A Friday: CPS open at 17:59; at 18:01 it is closed and the night turn is on.
        (at(2026, 12, 11, 17, 59), True, None, "erin"),
        (at(2026, 12, 11, 18, 1), False, "alice", "erin"),
        # Monday 06:59: still Sunday night's turn; CPS opens at 07:00 and the night ends.
        (at(2026, 12, 14, 6, 59), False, "alice", "erin"),
        (at(2026, 12, 14, 7, 0), True, None, "frank"),
        # Monday 18:00: the weekly hand-off to the next technician.
        (at(2026, 12, 14, 17, 59), True, None, "frank"),
        (at(2026, 12, 14, 18, 0), False, "bob", "frank"),
        # The override: Dave covers Tuesday night for Alice, and only that night.
        (at(2026, 12, 8, 17, 59), True, None, "frank"),
        (at(2026, 12, 8, 18, 0), False, "dave", "frank"),
        (at(2026, 12, 9, 6, 59), False, "dave", "frank"),
        (at(2026, 12, 9, 18, 0), False, "alice", "erin"),
        # Holidays: CPS closed all day, the AIMS turn covers the whole day.
        (at(2026, 12, 25, 10, 0), False, "carol", "erin"),  # Christmas (US)
        (at(2026, 12, 24, 10, 0), False, "carol", "frank"),  # configured closure day
        (at(2026, 11, 26, 12, 0), False, "bob", "frank"),  # Thanksgiving
        # A plain weekday noon: CPS open, no AIMS turn (nights, weekends, holidays only).
        (at(2026, 12, 9, 12, 0), True, None, "erin"),
        # Weekend daytime is covered.
        (at(2026, 12, 12, 12, 0), False, "alice", "frank"),
    ],
)
def test_who_is_on_call_and_whether_cps_is_open(moment, cps_open, aims, gds):
    assert desk_open(SPEC.cps_hours, moment, TZ, CLOSED) is cps_open
    assert DESK.cps_open(moment) is cps_open
    assert on_call(AIMS, moment, TZ, CLOSED) == aims
    assert on_call(GDS, moment, TZ, CLOSED) == gds


def test_escalation_goes_to_the_next_people_on_the_schedule():
    assert escalation_chain(AIMS, at(2026, 12, 11, 22), TZ, CLOSED, 2) == ["alice", "bob"]
    assert escalation_chain(AIMS, at(2026, 12, 11, 22), TZ, CLOSED, 5) == ["alice", "bob", "carol"]
    # Under an override the swapped-in person first, then the rotation from its current turn.
    assert escalation_chain(AIMS, at(2026, 12, 8, 23), TZ, CLOSED, 3) == ["dave", "alice", "bob"]
    assert escalation_chain(GDS, at(2026, 12, 11, 22), TZ, CLOSED, 2) == ["erin", "frank"]
    assert escalation_chain(AIMS, at(2026, 12, 9, 12), TZ, CLOSED, 2) == []


def test_next_opening_of_cps():
    assert next_opening(SPEC.cps_hours, at(2026, 12, 11, 18, 1), TZ, CLOSED) == at(2026, 12, 14, 7)
    # Christmas Eve (closed day) and Christmas: the next opening is Monday the 28th.
    assert next_opening(SPEC.cps_hours, at(2026, 12, 23, 19), TZ, CLOSED) == at(2026, 12, 28, 7)


def _scan(schedule: Schedule, start: datetime, hours: int) -> list[tuple[datetime, str | None]]:
    """(instant, person) at every minute of `hours` hours: the changes only."""
    changes: list[tuple[datetime, str | None]] = []
    moment = start.astimezone(UTC)
    for _ in range(hours * 60):
        who = on_call(schedule, moment, TZ, frozenset())
        if not changes or changes[-1][1] != who:
            changes.append((moment, who))
        moment += timedelta(minutes=1)
    return changes


def _daily(handoff: str) -> Schedule:
    return Schedule(
        id="night",
        name="Night",
        rotations=[
            Rotation(
                start=datetime.fromisoformat(f"2026-01-01T{handoff}"),
                turn="1d",
                people=["ann", "ben"],
            )
        ],
    )


def test_spring_forward_night_hands_off_once_with_no_gap():
    """2026-03-08 02:00 EST jumps to 03:00 EDT; a 02:30 hand-off happens at 03:00 EDT."""
    changes = _scan(_daily("02:30"), at(2026, 3, 7, 23), 8)
    assert [who for _, who in changes] == ["ben", "ann"]  # one hand-off, nobody missing
    assert changes[1][0] == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_fall_back_night_hands_off_once_with_no_double_cover():
    """2026-11-01 02:00 EDT falls back to 01:00 EST; 01:30 comes twice, the hand-off once."""
    changes = _scan(_daily("01:30"), at(2026, 10, 31, 22), 8)
    assert [who for _, who in changes] == ["ben", "ann"]
    assert changes[1][0] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # the first 01:30 (EDT)


def test_weekly_night_turn_across_both_changeovers_is_never_empty():
    """The AIMS nights over both DST weekends: someone on call every minute of the night."""
    for night in (at(2026, 3, 7, 18), at(2026, 10, 31, 18)):
        changes = _scan(AIMS, night, 13)
        assert all(who is not None for _, who in changes), changes
        assert len(changes) == 1  # the same technician all night


def test_instant_of_wall_times():
    assert instant(datetime(2026, 3, 8, 2, 30), TZ) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert instant(datetime(2026, 11, 1, 1, 30), TZ) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert instant(datetime(2026, 7, 1, 12, 0), TZ) == datetime(2026, 7, 1, 16, 0, tzinfo=UTC)


ZONES = ["America/Detroit", "America/Chicago", "Europe/Paris", "Australia/Lord_Howe", "UTC"]


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31)),
    turn=st.sampled_from(["1h", "12h", "1d", "2d", "1w"]),
    people=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4, unique=True),
    offset_minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    step_minutes=st.integers(min_value=1, max_value=59),
)
def test_turns_never_go_back_and_never_leave_a_gap(
    zone, start, turn, people, offset_minutes, step_minutes
):
    """Across any instants (DST nights included), an always-on rotation has someone on call
    and its turn number never decreases: no gap, no double cover."""
    layer = Rotation(start=start.replace(second=0, microsecond=0), turn=turn, people=people)
    t0 = instant(layer.start, zone) + timedelta(minutes=offset_minutes)
    previous = None
    for k in range(6):
        moment = t0 + timedelta(minutes=k * step_minutes)
        n = layer.turn_at(moment, zone)
        assert n is not None
        assert previous is None or n >= previous
        previous = n


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    )
)
def test_cps_open_exactly_on_weekday_business_hours(moment):
    local = moment.astimezone(ZoneInfo(TZ))
    expected = local.weekday() < 5 and local.date() not in CLOSED and 7 <= local.hour < 18
    assert DESK.cps_open(moment) is expected


def test_a_schedule_naming_an_unknown_person_is_refused():
    raw = SPEC.model_dump(mode="json")
    raw["schedules"][0]["overrides"].append(
        {"start": "2026-12-20T18:00", "end": "2026-12-21T07:00", "person": "zed"}
    )
    with pytest.raises(ValueError, match="'zed' is not among the responders"):
        AfterHoursSpec.model_validate(raw)


def test_closed_dates_are_real_holidays():
    assert date(2026, 12, 25) in CLOSED and date(2026, 11, 26) in CLOSED
