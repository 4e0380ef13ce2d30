"""The rule that says which signals a ticket would ignore, shared by workflow and senders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.refresh import Status, TicketState
from domain.refresh_rules import send_invite_now_refusal, signal_refusal


def ticket(status: Status, **extra) -> TicketState:
    return TicketState(
        ticket_id="t1",
        config_id="c",
        style="on_prem",
        bump_down=False,
        status=status,
        support_team="team",
        user={"uniqname": "jdoe", "name": "J Doe", "email": "jdoe@example.edu"},
        existing_system={"serial": "S1", "platform": "windows", "model": "M"},
        created_at=datetime(2027, 3, 1, tzinfo=UTC),
        **extra,
    )


@pytest.mark.parametrize(
    ("name", "status", "refused"),
    [
        ("assign_replacement", Status.pending_invite, "this ticket is Waiting to invite"),
        ("assign_replacement", Status.pending_ordering, None),
        ("exchange_replacement", Status.complete, "this ticket is Complete"),
        ("exchange_replacement", Status.pending_wizard, None),
        ("set_tracking", Status.cancelled, "this ticket is Cancelled"),
        ("trigger_customer_reschedule", Status.pending_ordering, "asked to pick again"),
        ("trigger_customer_reschedule", Status.delivery_scheduled, None),
        ("slots_available", Status.complete, None),
    ],
)
def test_signal_refusal_says_why_in_words(name, status, refused):
    reason = signal_refusal(ticket(status), name)
    assert (reason is None) if refused is None else (refused in reason)
    assert reason is None or "pending_" not in reason


def test_send_invite_now_only_while_waiting_for_the_invite():
    waiting = ticket(Status.pending_invite, deadlines={"invite": datetime(2027, 3, 2, tzinfo=UTC)})
    assert send_invite_now_refusal(waiting) is None
    assert "being set up" in send_invite_now_refusal(ticket(Status.pending_invite))
    assert "already sent" in send_invite_now_refusal(ticket(Status.on_hold))
