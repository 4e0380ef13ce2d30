"""Cancel: the slot is given back, TDX is told, the workflow ends; a second cancel is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from domain.refresh import Status, UpdateAck
from tests.workflows.helpers import (
    ended,
    failure_text,
    fresh_slot,
    local,
    move_clock_to,
    on_prem_to_scheduling,
    save_history,
    sleep_until,
    slot_booked,
    start,
    ticket_input,
    until,
)

CANCELLED = 7  # the TDX stand-in's "Cancelled" status


async def test_cancel_from_delivery_scheduled_frees_the_slot_and_tells_tdx(env, worker, sim):
    await move_clock_to(env, local(2027, 5, 3, 14, 0))
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    slot_id = fresh_slot(worker, "nit-central", local(2027, 5, 18, 9, 10))
    await on_prem_to_scheduling(env, sim, worker, handle, "CNCL0001", [slot_id])
    await handle.execute_update("pick_slot", {"slot_id": slot_id})
    s = await until(handle, lambda s: s.confirmed_version == 1, "confirmation")
    assert s.status == Status.delivery_scheduled and slot_booked(worker, slot_id) == 1
    tdx_id = s.tdx.ticket_id
    assert sim.tdx.tickets[tdx_id]["StatusID"] != CANCELLED

    # TDX is down when the ticket is cancelled: the workflow keeps trying, and meanwhile a
    # second cancel is refused by the validator.
    sim.tdx.fail("POST", rf"/tickets/{tdx_id}/feed$", 500, count=None)
    ack = await handle.execute_update(
        "cancel", {"actor": "admin", "reason": "retiring the lab"}, result_type=UpdateAck
    )
    assert ack.status == Status.cancelled
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("cancel", {"actor": "admin", "reason": "again"})
    assert "ticket is already cancelled" in failure_text(refused.value)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

    sim.tdx.clear_faults()
    final = await ended(handle)
    assert final.status == Status.cancelled and final.cancel_reason == "retiring the lab"
    assert final.deadlines == {} and final.next_wakeup is None
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    [audit] = [a for a in final.audits if a.to_status == "cancelled"]
    assert (audit.actor, audit.from_status, audit.detail) == (
        "admin",
        "delivery_scheduled",
        "retiring the lab",
    )

    assert slot_booked(worker, slot_id) == 0
    assert sim.tdx.tickets[tdx_id]["StatusID"] == CANCELLED
    [feed] = [f for f in sim.tdx.feed[tdx_id] if f["UpdateType"] == "StatusChange"]
    assert feed["Body"] == "Refresh cancelled: retiring the lab"
    # No reminder for an appointment that no longer exists.
    assert [m.template for m in sim.mail.find(ticket=inp.ticket_id)].count(
        "appointment_reminder"
    ) == 0
    await save_history(handle, "on_prem_cancelled")


async def test_cancel_before_anything_was_booked(env, worker, sim):
    await move_clock_to(env, local(2027, 5, 3, 14, 0))
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    s = await until(handle, lambda s: s.setup_done and s.next_wakeup, "setup")
    assert s.status == Status.pending_invite
    await handle.execute_update("cancel", {"actor": "admin", "reason": "duplicate"})
    final = await ended(handle)
    assert final.status == Status.cancelled
    assert sim.tdx.tickets[final.tdx.ticket_id]["StatusID"] == CANCELLED
    # The invite time passes: nothing is sent for a cancelled ticket.
    # (Awaiting the result lets the test server skip ahead, so it may be there already.)
    if await env.get_current_time() < s.invite_at + timedelta(days=1):
        await sleep_until(env, s.invite_at + timedelta(days=1))
    assert sim.mail.find(ticket=inp.ticket_id) == [] and final.emails == []
