"""SLA arithmetic, table by table: the cases other service desks got wrong (seed 002).

Calendar: America/Detroit, 08:00-17:00 Monday to Friday (9 working hours a day), with the US
holidays of 2026-2027 and the university's closed day 2026-11-27 (Friday after Thanksgiving).
Every expected instant is local wall-clock time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.business_calendar import BusinessCalendar
from domain.holiday_dates import closed_dates_for
from domain.itsm import (
    ActionKind,
    ItsmEvent,
    Person,
    ServiceDeskTicket,
    TicketAction,
    TicketStatus,
)
from domain.service_desk import ServiceDesk, ServiceDeskSpec
from domain.sla import (
    Pause,
    SlaState,
    Targets,
    add_working_time,
    due_instant,
    notify_at,
    spent,
    working_time,
)
from domain.sla_clock import ClockState, apply_event, due_milestones, refresh

TZ = ZoneInfo("America/Detroit")
CAL = BusinessCalendar(
    timezone="America/Detroit",
    day_start=time(8),
    day_end=time(17),
    closed_dates=closed_dates_for("US", None, range(2026, 2028), [date(2026, 11, 27)]),
)
H = timedelta(hours=1)
DAY = 9 * H  # one working day of CAL


def at(m: int, d: int, h: int = 0, mi: int = 0, y: int = 2026) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ)


@pytest.mark.parametrize(
    ("case", "start", "amount", "due"),
    [
        ("inside hours", at(12, 7, 9), 4 * H, at(12, 7, 13)),
        ("runs over closing into the next day", at(12, 7, 15), 4 * H, at(12, 8, 10)),
        ("opened Saturday starts Monday 08:00", at(12, 5, 10), 4 * H, at(12, 7, 12)),
        ("opened after closing starts next morning", at(12, 7, 19), 1 * H, at(12, 8, 9)),
        (
            "opened before opening starts at opening",
            at(12, 7, 6),
            30 * timedelta(minutes=1),
            at(12, 7, 8, 30),
        ),
        ("zero from outside hours is the next opening", at(12, 5, 10), timedelta(0), at(12, 7, 8)),
        ("Friday afternoon over the weekend", at(12, 4, 16), 2 * H, at(12, 7, 9)),
        ("two working days", at(12, 7, 9), 2 * DAY, at(12, 9, 9)),
        ("Christmas Day inside the window", at(12, 24, 16), 2 * H, at(12, 28, 9)),
        (
            "Thanksgiving and the closed Friday inside the window",
            at(11, 25, 15),
            4 * H,
            at(11, 30, 10),
        ),
        # DST spring forward (2027-03-14, a Sunday): Monday 09:00 is EDT, 13:00 UTC, not 14:00.
        ("spring forward weekend", at(3, 12, 16, y=2027), 2 * H, at(3, 15, 9, y=2027)),
        # DST fall back (2026-11-01): Monday 09:00 is EST, 14:00 UTC, not 13:00.
        ("fall back weekend", at(10, 30, 16), 2 * H, at(11, 2, 9)),
        ("exactly at closing is due at closing", at(12, 7, 13), 4 * H, at(12, 7, 17)),
    ],
)
def test_add_working_time(case, start, amount, due):
    assert add_working_time(CAL, start, amount) == due, case


@pytest.mark.parametrize(
    ("case", "start", "end", "expected"),
    [
        ("one working day", at(12, 7, 0), at(12, 8, 0), DAY),
        ("a whole week", at(12, 5), at(12, 12), 5 * DAY),
        ("a weekend counts nothing", at(12, 4, 17), at(12, 7, 8), timedelta(0)),
        ("spring-forward weekend", at(3, 12, 16, y=2027), at(3, 15, 9, y=2027), 2 * H),
        ("fall-back weekend", at(10, 30, 16), at(11, 2, 9), 2 * H),
        ("Thanksgiving week", at(11, 23), at(11, 30), 3 * DAY),
        ("end before start", at(12, 8), at(12, 7), timedelta(0)),
    ],
)
def test_working_time(case, start, end, expected):
    assert working_time(CAL, start, end) == expected, case


@pytest.mark.parametrize(
    ("case", "instant", "told"),
    [
        ("inside hours: at once", at(12, 7, 10, 30), at(12, 7, 10, 30)),
        ("warning due exactly at closing: next opening", at(12, 7, 17), at(12, 8, 8)),
        ("Friday closing: Monday opening, never the weekend", at(12, 4, 17), at(12, 7, 8)),
        ("midnight is never a notification time", at(12, 8, 0), at(12, 8, 8)),
        ("before a holiday: the next working morning", at(12, 24, 17), at(12, 28, 8)),
    ],
)
def test_notify_at_working_instants(case, instant, told):
    assert notify_at(CAL, instant) == told, case


def test_pause_over_a_weekend_with_a_target_in_days_is_not_over_counted():
    """Opened Thursday 09:00, target 2 working days (18 h), on hold Friday 12:00 until
    Monday 12:00: 12 h were spent before the pause, the hold takes off only Friday 12-17 and
    Monday 8-12 (9 h of working time, not the 72 h of wall time), so 6 h are left from
    Monday 12:00: due Tuesday 09:00."""
    opened = at(12, 3, 9)
    pauses = [Pause(start=at(12, 4, 12), end=at(12, 7, 12))]
    assert spent(CAL, opened, pauses, at(12, 7, 12)) == 12 * H
    assert due_instant(CAL, opened, pauses, 2 * DAY, at(12, 7, 12)) == at(12, 8, 9)


def test_a_paused_clock_has_no_due_instant_and_keeps_its_spent_time():
    opened = at(12, 7, 9)
    pauses = [Pause(start=at(12, 7, 11))]
    assert due_instant(CAL, opened, pauses, 4 * H, at(12, 9, 9)) is None
    assert spent(CAL, opened, pauses, at(12, 9, 9)) == 2 * H


def test_a_due_instant_already_past_is_when_it_ran_out():
    opened = at(12, 7, 9)
    pauses = [Pause(start=at(12, 7, 10), end=at(12, 7, 11))]
    assert due_instant(CAL, opened, pauses, 2 * H, at(12, 8, 9)) == at(12, 7, 12)


# ----- the clock's rules over events --------------------------------------------------------

DESK = ServiceDesk(
    calendar=CAL,
    spec=ServiceDeskSpec.model_validate(
        {
            "teams": [
                {"id": "support", "name": "Support", "itsm_team": "Support", "slack_channel": "#s"}
            ],
            "sla_policies": [
                {
                    "id": "standard",
                    "priorities": {
                        "2": {"response": "1h", "resolution": "8h"},
                        "3": {"response": "4h", "resolution": "2d"},
                    },
                }
            ],
            "routing_rules": [{"team": "support"}],
        }
    ),
)


def ticket(updated: datetime, **fields) -> ServiceDeskTicket:
    base = {
        "itsm": "halo",
        "id": "1001",
        "priority": "3",
        "opened_at": at(12, 7, 9),
        "updated_at": updated,
        "user": Person(name="Camille", email="c@example.org"),
    }
    return ServiceDeskTicket(**{**base, **fields})


def event(updated: datetime, action: TicketAction | None = None, **fields) -> ItsmEvent:
    return ItsmEvent(
        itsm="halo", delivery_id=f"d{updated}", ticket=ticket(updated, **fields), action=action
    )


def clock(*events: ItsmEvent, now: datetime) -> ClockState:
    s = ClockState(itsm="halo", ticket_id="1001")
    for e in events:
        apply_event(s, DESK, e, now, [50, 75, 90])
    refresh(s, CAL, now)
    return s


def test_a_private_note_does_not_meet_the_response_target_and_a_reply_does():
    note = TicketAction(id="2", kind=ActionKind.agent_note, at=at(12, 7, 10), text="looking")
    s = clock(event(at(12, 7, 9)), event(at(12, 7, 10), note), now=at(12, 7, 10))
    assert s.responded_at is None and s.response_due == at(12, 7, 13)
    reply = TicketAction(id="3", kind=ActionKind.agent_reply, at=at(12, 7, 11), to_user=True)
    s = clock(
        event(at(12, 7, 9)),
        event(at(12, 7, 10), note),
        event(at(12, 7, 11), reply),
        now=at(12, 7, 11),
    )
    assert s.responded_at == at(12, 7, 11) and s.response_due is None
    assert s.state == SlaState.running


def test_a_priority_change_keeps_the_pause_already_taken():
    """P3 opened Monday 09:00, on hold 10:00-12:00, raised to P2 (resolution 8 h) at 14:00:
    3 working hours spent (9-10, 12-14), so P2's 8 h run out at 14:00 + 5 h = Tuesday 10:00."""
    s = clock(
        event(at(12, 7, 9)),
        event(at(12, 7, 10), status=TicketStatus.on_hold),
        event(at(12, 7, 12), status=TicketStatus.in_progress),
        event(at(12, 7, 14), status=TicketStatus.in_progress, priority="2"),
        now=at(12, 7, 14),
    )
    assert s.pauses == [Pause(start=at(12, 7, 10), end=at(12, 7, 12))]
    assert s.targets == Targets(response=H, resolution=8 * H)
    assert s.resolution_due == at(12, 8, 10)
    assert s.retargets == 1


def test_an_older_snapshot_delivered_late_changes_nothing():
    s = clock(
        event(at(12, 7, 9)),
        event(at(12, 7, 11), status=TicketStatus.on_hold),
        event(at(12, 7, 10), status=TicketStatus.in_progress),  # reordered: older
        now=at(12, 7, 12),
    )
    assert s.paused and s.state == SlaState.paused


def test_a_repeated_action_is_counted_once():
    reply = TicketAction(id="3", kind=ActionKind.agent_reply, at=at(12, 7, 11), to_user=True)
    s = clock(
        event(at(12, 7, 9)),
        event(at(12, 7, 11), reply),
        event(at(12, 7, 11), reply),
        now=at(12, 7, 12),
    )
    assert s.seen_actions == ["3"]


def test_warning_spilling_past_closing_is_due_at_the_next_opening():
    """P3, resolution 18 h from Monday 09:00: 50 % (9 h) is reached at Tuesday 09:00; response
    4 h: 50 % at 11:00, ... So at Monday 17:30 nothing of the resolution is due yet."""
    s = clock(event(at(12, 7, 9)), now=at(12, 7, 17, 30))
    due = due_milestones(s, CAL, at(12, 7, 17, 30))
    assert [m.name for m in due] == ["response:50", "response:75", "response:90", "response:100"]
    s2 = clock(event(at(12, 7, 9)), now=at(12, 8, 8, 59))
    assert "resolution:50" not in [m.name for m in due_milestones(s2, CAL, at(12, 8, 8, 59))]
    s3 = clock(event(at(12, 7, 9)), now=at(12, 8, 9))
    assert "resolution:50" in [m.name for m in due_milestones(s3, CAL, at(12, 8, 9))]


def test_closing_in_time_is_met_and_late_is_breached():
    reply = TicketAction(id="2", kind=ActionKind.agent_reply, at=at(12, 7, 10), to_user=True)
    met = clock(
        event(at(12, 7, 9)),
        event(at(12, 7, 10), reply),
        event(at(12, 7, 15), status=TicketStatus.closed),
        now=at(12, 7, 15),
    )
    assert met.state == SlaState.met
    late = clock(
        event(at(12, 7, 9)),
        event(at(12, 7, 10), reply),
        event(at(12, 10, 15), status=TicketStatus.closed),
        now=at(12, 10, 15),
    )
    assert late.state == SlaState.breached


ON_HOLD, IN_PROGRESS, CLOSED = TicketStatus.on_hold, TicketStatus.in_progress, TicketStatus.closed


def hold_action(aid: str, when: datetime, status: TicketStatus) -> TicketAction:
    """A status action as Halo sends it (its `new_status`)."""
    return TicketAction(id=aid, kind=ActionKind.status_change, at=when, new_status=status)


HOLD = event(at(12, 7, 10), hold_action("2", at(12, 7, 10), ON_HOLD), status=ON_HOLD)
RELEASE = event(at(12, 7, 11), hold_action("3", at(12, 7, 11), IN_PROGRESS), status=IN_PROGRESS)
# The catch-up replays each action with the ticket as it is now (released at 11:00).
REPLAYED_HOLD = event(at(12, 7, 11), hold_action("2", at(12, 7, 10), ON_HOLD), status=IN_PROGRESS)
ONE_HOUR_OFF = [Pause(start=at(12, 7, 10), end=at(12, 7, 11))]


@pytest.mark.parametrize(
    "case, events",
    [
        ("in order", [HOLD, RELEASE]),
        ("release delivered before its hold", [RELEASE, HOLD]),
        ("the hold repeated after the release", [HOLD, RELEASE, HOLD]),
        ("catch-up replays hold and release", [REPLAYED_HOLD, RELEASE]),
        ("catch-up replays them newest first", [RELEASE, REPLAYED_HOLD]),
        ("a webhook release, the hold only from the catch-up", [RELEASE, REPLAYED_HOLD, HOLD]),
    ],
)
def test_a_hold_and_its_release_pause_the_clock_in_any_order(case, events):
    """P3 opened Monday 09:00 (response 4 h), on hold 10:00-11:00: due 14:00, not 13:00."""
    s = clock(event(at(12, 7, 9)), *events, now=at(12, 7, 12))
    assert s.pauses == ONE_HOUR_OFF, case
    assert s.status == IN_PROGRESS and not s.paused, case
    assert s.response_due == at(12, 7, 14), case
    assert s.state == SlaState.running, case


def test_a_hold_delivered_late_still_open_keeps_the_clock_paused():
    """Hold at 11:00 delivered after an older 10:00 snapshot: paused from 11:00 on."""
    s = clock(
        event(at(12, 7, 9)),
        event(at(12, 7, 11), hold_action("3", at(12, 7, 11), ON_HOLD), status=ON_HOLD),
        event(at(12, 7, 10), status=IN_PROGRESS),
        now=at(12, 7, 12),
    )
    assert s.pauses == [Pause(start=at(12, 7, 11))] and s.state == SlaState.paused


def test_a_close_delivered_before_an_earlier_hold_ends_the_pause_at_the_close():
    closed = event(at(12, 7, 12), hold_action("4", at(12, 7, 12), CLOSED), status=CLOSED)
    s = clock(event(at(12, 7, 9)), closed, HOLD, now=at(12, 7, 13))
    assert s.pauses == [Pause(start=at(12, 7, 10), end=at(12, 7, 12))]
    assert s.finished_at == at(12, 7, 12) and s.state == SlaState.met


def test_a_clock_carried_over_from_before_the_timeline_keeps_its_pauses():
    """A clock that continued-as-new before status facts were kept (pauses, no facts) and is
    released now counts its hold, as a clock that saw the whole story does."""
    hold_open = event(at(12, 7, 10), hold_action("2", at(12, 7, 10), ON_HOLD), status=ON_HOLD)
    fresh = clock(event(at(12, 7, 9)), hold_open, now=at(12, 7, 10))
    carried = fresh.model_copy(update={"status_marks": []})  # the old shape
    release = event(at(12, 8, 15), hold_action("3", at(12, 8, 15), IN_PROGRESS), status=IN_PROGRESS)
    for s in (fresh, carried):
        apply_event(s, DESK, release, at(12, 8, 15), [50, 75, 90])
        refresh(s, CAL, at(12, 8, 15))
    assert carried.pauses == fresh.pauses == [Pause(start=at(12, 7, 10), end=at(12, 8, 15))]
    assert carried.state == fresh.state == SlaState.running
    assert carried.resolution_due == fresh.resolution_due


def test_histories_from_before_the_timeline_keep_the_arrival_order():
    """Unpatched (replayed) clocks take status changes as they arrive: an older snapshot
    after a newer one changes nothing, as it did when those histories were recorded."""
    s = ClockState(itsm="halo", ticket_id="1001")
    for e in (event(at(12, 7, 9)), RELEASE, HOLD):
        apply_event(s, DESK, e, at(12, 7, 12), [50, 75, 90], timeline=False)
    assert s.pauses == [] and s.status == IN_PROGRESS
