"""The lifecycle's pure rules (seed 001's timeline), and reading a running ticket's older state."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from domain.business_calendar import BusinessCalendar
from domain.holiday_dates import closed_dates_for
from domain.refresh import AuditEntry, Deadline, RefreshTicketInput, Status, TicketState
from domain.refresh_lifecycle import (
    first_status,
    new_ticket_state,
    refused_at_setup,
    restarted_ticket_state,
    status_after_itsm,
    status_after_location,
    wizard_deadlines,
)

DETROIT = ZoneInfo("America/Detroit")


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=DETROIT)


@pytest.mark.parametrize(
    ("style", "status"),
    [
        ("no_customer", Status.pending_ordering),
        ("on_prem", Status.pending_invite),
        ("remote", Status.pending_invite),
        ("unit_location", Status.pending_invite),
    ],
)
def test_no_customer_tickets_skip_the_invite(style, status):
    assert first_status(style) == status


@pytest.mark.parametrize(
    ("style", "status"),
    [
        ("on_prem", Status.pending_slot_discovery),
        ("unit_location", Status.pending_slot_discovery),
        ("remote", Status.pending_delivery),
        ("no_customer", Status.delivery_scheduled),
    ],
)
def test_after_tdx_knows_the_replacement(style, status):
    assert status_after_itsm(style) == status


def test_approval_only_when_the_config_asks_and_nobody_approved_yet():
    assert status_after_location(True, None) == Status.pending_approval
    assert status_after_location(True, "appr1") == Status.pending_ordering
    assert status_after_location(False, None) == Status.pending_ordering


def test_wizard_reminders_at_5_and_10_business_days_then_staff_at_14():
    cal = BusinessCalendar(
        timezone="America/Detroit",
        day_start=time(5, 0),
        day_end=time(18, 0),
        closed_dates=closed_dates_for("US", None, range(2026, 2028), (date(2026, 12, 24),)),
    )
    # Invited Tuesday 2027-03-02 10:05: 5 business days on is Tuesday 03-09, 10 is 03-16,
    # 14 is Monday 03-22 (no holidays in between), each at the invite's wall-clock time.
    got = wizard_deadlines(cal, local(2027, 3, 2, 10, 5))
    assert got == {
        Deadline.wizard_reminder_1: local(2027, 3, 9, 10, 5),
        Deadline.wizard_reminder_2: local(2027, 3, 16, 10, 5),
        Deadline.location_info: local(2027, 3, 22, 10, 5),
    }
    # Sent early by staff ("send the invite now") on Monday 23:40: counted from the next
    # business day's 10:05, so the customer is not reminded at 23:40.
    assert wizard_deadlines(cal, local(2027, 3, 1, 23, 40)) == got


def test_state_of_an_older_run_reads_with_its_facts_recovered_from_the_audits():
    older = {
        "ticket_id": "T1",
        "config_id": "lsa-onprem",
        "style": "on_prem",
        "bump_down": False,
        "status": "pending_slot_discovery",
        "support_team": "nit-central",
        "user": {"uniqname": "jdoe", "name": "Jane Doe", "email": "jdoe@example.edu"},
        "existing_system": {"serial": "OLD1", "platform": "windows", "model": "Dell"},
        "created_at": "2027-03-01T15:00:00Z",
        "day1": None,
        "invite_at": "2027-03-02T15:05:00Z",
        "deadlines": {},
        "audits": [
            {
                "seq": 1,
                "at": "2027-03-05T15:00:00Z",
                "actor": "og",
                "action": "replacement assigned",
            },
            {"seq": 2, "at": "2027-03-06T15:00:00Z", "actor": "a", "action": "change requested"},
            {"seq": 3, "at": "2027-03-07T15:00:00Z", "actor": "a", "action": "change requested"},
            {"seq": 4, "at": "2027-03-08T15:00:00Z", "actor": "c", "action": "slot picked"},
            {
                "seq": 5,
                "at": "2027-03-09T15:00:00Z",
                "actor": "lead",
                "action": "status",
                "detail": "reschedule: slot deleted",
            },
        ],
    }
    s = TicketState.model_validate_json(json.dumps(older))
    assert (s.replacement_assigned, s.change_requests, s.pick_again) == (True, 2, True)
    assert s.location_known is False  # it had no wizard_submitted
    # Derived now, not stored: the old fields are read over, not refused.
    assert s.day1 is None and s.invite_at is None
    # A state written by this code reads back as it was.
    again = TicketState.model_validate_json(s.model_dump_json())
    assert again == s and "day1" in json.loads(s.model_dump_json())


def ticket_input(style: str) -> RefreshTicketInput:
    return RefreshTicketInput.model_validate(
        {
            "ticket_id": "lsa-onprem.OLD123",
            "config_id": "lsa-onprem",
            "style": style,
            "user": {"uniqname": "jdoe", "name": "Jane Doe", "email": "jdoe@example.edu"},
            "existing_system": {
                "serial": "OLD123",
                "platform": "windows",
                "model": "Dell Latitude 5420",
                "location": "Angell Hall, 2001",
            },
            "support_team": "nit-central",
        }
    )


def test_only_a_run_cancelled_before_its_setup_is_started_again():
    inp = ticket_input("on_prem")
    start = new_ticket_state(inp, local(2026, 11, 2, 9))
    refused = start.model_copy(update={"status": Status.cancelled})
    assert refused_at_setup(refused)
    # Set up, then cancelled (by staff, or its run failed later): never started again.
    assert not refused_at_setup(refused.model_copy(update={"setup_done": True}))
    assert not refused_at_setup(start)
    assert not refused_at_setup(
        start.model_copy(update={"status": Status.delivery_scheduled, "setup_done": True})
    )


def test_a_ticket_started_again_goes_on_from_the_old_runs_audits_and_row():
    inp = ticket_input("remote")
    then, now = local(2026, 11, 2, 9), local(2026, 11, 9, 14)
    old = [
        AuditEntry(seq=1, at=then, actor="system", action="created", to_status="pending_invite"),
        AuditEntry(seq=2, at=then, actor="system", action="status", to_status="cancelled"),
    ]
    s = restarted_ticket_state(inp, old, 4, now)
    assert (s.status, s.setup_done, s.created_at, s.revision) == (
        Status.pending_invite,
        False,
        now,
        4,
    )
    assert s.audits == old  # the new run's first audit is number 3
    assert s.model_copy(update={"audits": [], "revision": 0}) == new_ticket_state(inp, now)
