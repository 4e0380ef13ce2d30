"""Hold and release: timers pause while held, nothing is sent, deadlines shift exactly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.refresh import Status
from tests.workflows.helpers import (
    as_local,
    ended,
    failure_text,
    fires_at,
    invited,
    local,
    move_clock_to,
    sent,
    settle,
    sleep_until,
    start,
    state,
    ticket_input,
    until,
)


async def test_hold_in_pending_wizard_shifts_reminders_by_the_held_time(env, worker, sim):
    await move_clock_to(env, local(2027, 3, 1, 14, 0))
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    before = await invited(env, handle)
    first = before.deadlines["wizard_reminder_1"]
    assert as_local(first) == local(2027, 3, 9, 10, 5)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("release", {"actor": "nit-lead"})
    assert "ticket is pending_wizard; this needs on_hold" in failure_text(refused.value)

    # Held the day before the first reminder, for three days: the reminder's time passes.
    await sleep_until(env, local(2027, 3, 8, 10, 5))
    await handle.execute_update("hold", {"actor": "nit-lead", "reason": "customer on leave"})
    s = await state(handle)
    assert s.status == Status.on_hold and s.held_from == Status.pending_wizard
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("hold", {"actor": "nit-lead"})
    assert "ticket is on_hold: it cannot be put on hold" in failure_text(refused.value)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("submit_wizard", {"location": "Angell Hall, 2001"})
    assert "ticket is on_hold" in failure_text(refused.value)

    await env.sleep(timedelta(days=3))
    s = await settle(handle, Status.on_hold)
    assert s.next_wakeup is None
    assert [e.template for e in s.emails] == ["invite"]
    assert sim.mail.find(ticket=inp.ticket_id, template="wizard_reminder") == []

    await handle.execute_update("release", {"actor": "nit-lead"})
    s = await settle(handle, Status.pending_wizard)
    hold = next(a for a in s.audits if a.to_status == "on_hold")
    release = next(a for a in s.audits if a.from_status == "on_hold")
    assert (hold.actor, hold.detail, release.actor) == ("nit-lead", "customer on leave", "nit-lead")
    held = release.at - hold.at
    assert timedelta(days=3) <= held < timedelta(days=3, minutes=1)
    assert set(s.deadlines) == set(before.deadlines)
    for name, due in before.deadlines.items():
        assert s.deadlines[name] - due == held, name
    assert s.next_wakeup == s.deadlines["wizard_reminder_1"] == first + held
    assert s.held_from is None and s.hold_started is None

    # The first reminder now comes three days late, and only once.
    s = await fires_at(env, handle, first + held, sent("wizard_reminder"), "first reminder")
    await settle(handle, Status.pending_wizard)
    assert len(sim.mail.find(ticket=inp.ticket_id, template="wizard_reminder")) == 1


async def test_hold_in_pending_invite_delays_the_invite(env, worker, sim):
    await move_clock_to(env, local(2027, 3, 1, 14, 0))
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    s = await until(handle, lambda s: s.setup_done and s.next_wakeup, "setup")
    invite = s.invite_at
    assert as_local(invite) == local(2027, 3, 2, 10, 5)

    await handle.execute_update("hold", {"actor": "nit-lead"})
    await sleep_until(env, local(2027, 3, 3, 14, 0))
    s = await settle(handle, Status.on_hold)
    assert s.emails == [] and sim.mail.find(ticket=inp.ticket_id) == []
    await handle.execute_update("release", {"actor": "nit-lead"})
    s = await state(handle)
    held = s.audits[-1].at - s.audits[-2].at
    # Two days, less the real seconds the hold itself took to arrive after the clock moved.
    assert timedelta(days=2, seconds=-30) <= held < timedelta(days=2, minutes=1)
    assert s.invite_at == s.deadlines["invite"] == invite + held
    s = await fires_at(env, handle, invite + held, sent("invite"), "invite")
    await settle(handle, Status.pending_wizard)
    assert len(sim.mail.find(ticket=inp.ticket_id, template="invite")) == 1

    # A held ticket can still be cancelled.
    await handle.execute_update("hold", {"actor": "nit-lead"})
    await handle.execute_update("cancel", {"actor": "admin", "reason": "left the university"})
    final = await ended(handle)
    assert final.status == Status.cancelled and final.held_from is None
