"""GenerateScheduleSlots, night after night on the time-skipping server with the real worker."""

from __future__ import annotations

from collections import Counter
from datetime import date, time, timedelta
from uuid import uuid4

from domain.scheduled_jobs import GENERATE_WORKFLOW, GenerateSlotsInput, GenerateSlotsResult
from store.slot_preferences import add_preference, edit_preference, list_preferences
from store.slots import delete_slot
from tests.schedules.helpers import new_team, sessions_for, team_slots
from tests.workflows.helpers import TZ, local, move_clock_to, save_history, sleep_until

PREFS = [
    {"weekday": 0, "start": "09:00", "length_minutes": 60, "capacity": 3, "location": "Depot A"},
    {"weekday": 3, "start": "13:00", "length_minutes": 90, "capacity": 2, "location": "Depot A"},
    {"weekday": 4, "start": "10:00", "length_minutes": 30, "capacity": 1, "location": "Depot B"},
]
# tests/reference.yaml: US holidays plus closed days 2027-11-26, 2027-12-24 and 2027-12-31.
CLOSED = {
    date(2027, 11, 11),  # Veterans Day (Thursday)
    date(2027, 11, 25),  # Thanksgiving (Thursday)
    date(2027, 11, 26),  # university closure day (Friday)
    date(2027, 12, 24),  # closure day and Christmas observed (Friday)
    date(2027, 12, 31),  # closure day and New Year observed (Friday)
    date(2028, 5, 29),  # Memorial Day (Monday)
}


async def night(env, worker, team: str) -> GenerateSlotsResult:
    """One scheduled run at the current time. (Waiting for a result with time skipping on
    lets the test server jump years ahead once the workflow is done, hence the pause.)"""
    with env.auto_time_skipping_disabled():
        handle = await env.client.start_workflow(
            GENERATE_WORKFLOW,
            GenerateSlotsInput(team_ids=[team]),
            id=f"generate-{uuid4().hex[:8]}",
            task_queue=worker.task_queue,
        )
        result = GenerateSlotsResult.model_validate(await handle.result())
        await save_history(handle, "generate_schedule_slots")
        return result


def expected(first: date, last: date, prefs=PREFS) -> list[tuple]:
    out = []
    day = first
    while day <= last:
        for p in prefs:
            if day.weekday() == p["weekday"] and day not in CLOSED:
                start = time.fromisoformat(p["start"])
                out.append((day, start, p["length_minutes"], p["capacity"], p["location"]))
        day += timedelta(days=1)
    return out


def as_rows(slots) -> list[tuple]:
    return [
        (
            s.start_at.astimezone(TZ).date(),
            s.start_at.astimezone(TZ).time(),
            int((s.end_at - s.start_at).total_seconds() // 60),
            s.capacity,
            s.location,
        )
        for s in slots
    ]


async def test_six_weeks_of_nights_match_the_preferences(env, worker):
    team = new_team(worker, PREFS)
    first_night = date(2027, 10, 18)  # a Monday; DST ends 2027-11-07
    await move_clock_to(env, local(2027, 10, 18, 0, 30))
    created_per_night = []
    for n in range(42):
        day = first_night + timedelta(days=n)
        if n:
            await sleep_until(env, local(day.year, day.month, day.day, 0, 30), past=timedelta(0))
        result = await night(env, worker, team)
        assert (result.today, result.through) == (day, day + timedelta(weeks=5))
        [generated] = result.teams
        created_per_night.append(generated.created)
        # Every later night creates exactly the slots of the day that entered the window.
        if n:
            new_day = day + timedelta(weeks=5)
            assert generated.created == len(expected(new_day, new_day)), new_day
    last = first_night + timedelta(days=41, weeks=5)
    slots = team_slots(worker, team)
    assert as_rows(slots) == expected(first_night, last)
    assert sum(created_per_night) == len(slots)
    assert created_per_night[0] == len(expected(first_night, first_night + timedelta(weeks=5)))

    days = Counter(r[0] for r in as_rows(slots))
    for closed in CLOSED:
        assert days[closed] == 0, closed
    assert days[date(2027, 11, 18)] == 1 and days[date(2027, 11, 19)] == 1  # normal Thu/Fri
    assert {s.start_at.astimezone(TZ).weekday() for s in slots} == {0, 3, 4}
    # 09:00 local is 13:00 UTC before the DST change and 14:00 UTC after it.
    mondays = [s for s in slots if s.start_at.astimezone(TZ).weekday() == 0]
    assert mondays[0].start_at.hour == 13 and mondays[-1].start_at.hour == 14
    assert {s.booked for s in slots} == {0} and {s.deleted_at for s in slots} == {None}


async def test_changes_show_up_only_as_new_nights_generate(env, worker):
    team = new_team(worker, PREFS[:1])  # Mondays 09:00, capacity 3
    await move_clock_to(env, local(2028, 3, 7, 0, 30))  # Tuesday
    first = await night(env, worker, team)
    assert first.teams[0].first == date(2028, 3, 7)
    mondays_before = as_rows(team_slots(worker, team))
    assert [r[0] for r in mondays_before] == [
        date(2028, 3, 13) + timedelta(weeks=w) for w in range(5)
    ]

    # The Schedule Slot Admin adds Wednesdays 10:00 and raises Monday's capacity to 5.
    with sessions_for(worker).begin() as db:
        [monday] = list_preferences(db, team)
        edit_preference(db, team, monday.id, {"capacity": 5})
        add_preference(
            db,
            team,
            {
                "weekday": 2,
                "start": "10:00",
                "length_minutes": 60,
                "capacity": 2,
                "location": "Depot A",
            },
        )
    # An admin also deleted one slot; nightly generation must not bring it back.
    deleted = team_slots(worker, team)[0]
    with sessions_for(worker).begin() as db:
        delete_slot(db, deleted.id, "lead", deleted.start_at - timedelta(days=1))

    for n in range(1, 8):  # Wednesday .. next Tuesday
        await sleep_until(env, local(2028, 3, 7 + n, 0, 30), past=timedelta(0))
        await night(env, worker, team)
    rows = as_rows(team_slots(worker, team))
    assert rows[: len(mondays_before)] == mondays_before  # nothing rewritten, nothing re-created
    new = rows[len(mondays_before) :]
    # Only days that entered the window after the change: Wed 2028-04-12 and Mon 2028-04-17.
    assert new == [
        (date(2028, 4, 12), time(10), 60, 2, "Depot A"),
        (date(2028, 4, 17), time(9), 60, 5, "Depot A"),
    ]
    assert len(team_slots(worker, team)) == len(rows)


async def test_catching_up_after_downtime_creates_each_slot_once(env, worker):
    team = new_team(worker, PREFS)
    await move_clock_to(env, local(2028, 5, 1, 0, 30))
    await night(env, worker, team)
    # Down for six days: the next run fills the six missed days, a rerun adds nothing.
    await sleep_until(env, local(2028, 5, 8, 0, 30), past=timedelta(0))
    caught_up = await night(env, worker, team)
    again = await night(env, worker, team)
    assert caught_up.teams[0].first == date(2028, 6, 6)
    assert again.teams[0].first is None and again.teams[0].created == 0  # nothing due
    slots = team_slots(worker, team)
    assert as_rows(slots) == expected(date(2028, 5, 1), date(2028, 6, 12))
    assert len({(s.team_id, s.start_at) for s in slots}) == len(slots)
