"""`send_invite_now`: staff send a waiting ticket's invite at once instead of at 10:05."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.refresh import Status
from tests.workflows.helpers import (
    failure_text,
    local,
    move_clock_to,
    save_history,
    sent,
    settle,
    start,
    ticket_input,
    until,
)


async def test_send_invite_now_sends_it_at_once_then_refuses_a_second(env, worker, sim):
    # Monday 09:00: left alone, the invite would wait for Tuesday 10:05.
    await move_clock_to(env, local(2027, 3, 1, 9, 0))
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    s = await until(handle, lambda s: s.setup_done and s.next_wakeup, "setup")
    assert s.status == Status.pending_invite and s.invite_at - s.created_at > timedelta(hours=20)

    await handle.execute_update(
        "send_invite_now", {"actor": "rmgr", "reason": "customer asked for the link"}
    )
    s = await until(handle, sent("invite"), "invite sent now")
    assert s.invited_at - s.created_at < timedelta(hours=1)
    [email] = sim.mail.find(ticket=inp.ticket_id, template="invite")
    assert email.addressed_to("jdoe@example.edu")
    audit = next(a for a in s.audits if a.action == "invite sent now")
    assert audit.actor == "rmgr" and audit.detail == "customer asked for the link"
    s = await settle(handle, Status.pending_wizard)
    # Reminders count from the invite that went out, not from the 10:05 that never came.
    assert s.deadlines["wizard_reminder_1"] - s.invited_at < timedelta(days=8)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("send_invite_now", {"actor": "rmgr"})
    assert "the invite was already sent" in failure_text(refused.value)
    assert "Waiting for the customer's choices" in failure_text(refused.value)
    await save_history(handle, "send_invite_now")


async def test_send_invite_now_names_the_missing_actor(env, worker):
    handle = await start(env, worker, ticket_input("on_prem", "lsa-onprem"))
    await until(handle, lambda s: s.setup_done, "setup")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("send_invite_now", {"reason": "x"})
    assert "actor" in failure_text(refused.value)
    s = await settle(handle, Status.pending_invite)
    assert not s.emails
