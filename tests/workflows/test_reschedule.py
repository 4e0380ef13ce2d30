"""Reschedules: the customer picks again, staff assign a slot, a customer reschedule is
triggered; each time TDX and the customer hear of it and the old place is given back."""

from __future__ import annotations

from datetime import datetime

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.refresh import Status, TicketState
from tests.workflows.helpers import (
    as_local,
    failure_text,
    fill_slot,
    fresh_slot,
    local,
    move_clock_to,
    on_prem_to_scheduling,
    settle,
    slot_booked,
    start,
    state,
    ticket_input,
    until,
)


def day1_in_tdx(sim, s: TicketState) -> set[datetime]:
    """StartDate of the TDX Build and Deliver tasks."""
    return {
        datetime.fromisoformat(sim.tdx.tasks[s.tdx.tasks[k]]["StartDate"])
        for k in ("build", "deliver")
    }


async def test_reschedules_keep_tdx_the_customer_and_the_slots_in_step(env, worker, sim):
    await move_clock_to(env, local(2027, 6, 1, 14, 0))
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    a = fresh_slot(worker, "nit-central", local(2027, 6, 15, 9, 10), capacity=3)
    b = fresh_slot(worker, "nit-central", local(2027, 6, 17, 13, 20), minutes=90, capacity=2)
    c = fresh_slot(worker, "nit-central", local(2027, 6, 22, 9, 10), capacity=3)
    full = fresh_slot(worker, "nit-central", local(2027, 6, 24, 13, 20), minutes=90, capacity=1)
    fill_slot(worker, full)
    await on_prem_to_scheduling(env, sim, worker, handle, "RESCHED1", [a, b, c, full])

    def confirmed(n: int):
        return lambda s: s.confirmed_version == n and s.status == Status.delivery_scheduled

    # The customer picks A...
    await handle.execute_update("pick_slot", {"slot_id": a})
    s = await until(handle, confirmed(1), "first confirmation")
    assert as_local(s.day1) == local(2027, 6, 15, 9, 10)
    assert day1_in_tdx(sim, s) == {s.day1}
    assert as_local(s.deadlines["appointment_reminder"]) == local(2027, 6, 14, 10, 5)
    assert (slot_booked(worker, a), slot_booked(worker, b)) == (1, 0)

    # ...then changes their mind to B: a new confirmation, TDX moved, A given back.
    await handle.execute_update("pick_slot", {"slot_id": b})
    s = await until(handle, confirmed(2), "second confirmation")
    assert as_local(s.day1) == local(2027, 6, 17, 13, 20)
    assert day1_in_tdx(sim, s) == {s.day1}
    # Reminder: Wednesday 10:05 (Juneteenth is the Friday after, irrelevant here).
    assert as_local(s.deadlines["appointment_reminder"]) == local(2027, 6, 16, 10, 5)
    assert (slot_booked(worker, a), slot_booked(worker, b)) == (0, 1)
    confirmations = sim.mail.find(ticket=inp.ticket_id, template="appointment_confirmation")
    assert len(confirmations) == 2
    assert "Thursday June 17, 2027 at 1:20 PM" in confirmations[0].text  # newest first

    # Picking the slot it already has is refused, not booked twice.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("pick_slot", {"slot_id": b})
    assert f"slot {b} is already this ticket's slot" in failure_text(refused.value)

    # Staff assign C directly.
    await handle.execute_update(
        "reschedule", {"slot_id": c, "actor": "nit-lead", "reason": "technician out"}
    )
    s = await until(handle, confirmed(3), "third confirmation")
    assert as_local(s.day1) == local(2027, 6, 22, 9, 10)
    assert day1_in_tdx(sim, s) == {s.day1}
    assert (slot_booked(worker, b), slot_booked(worker, c)) == (0, 1)
    [staff] = [a for a in s.audits if a.actor == "nit-lead"]
    assert staff.action == "rescheduled by staff technician out"
    day1_feeds = [f for f in sim.tdx.feed[s.tdx.ticket_id] if "Day 1 scheduled" in f["Body"]]
    assert len(day1_feeds) == 3
    assert len(sim.mail.find(ticket=inp.ticket_id, template="appointment_confirmation")) == 3

    # The slot must go (e.g. deleted by a slot admin): the customer is asked to pick again.
    await handle.signal("trigger_customer_reschedule", {"actor": "nit-lead", "reason": "no staff"})
    s = await settle(handle, Status.pending_customer_scheduling)
    assert s.slot is None and s.day1 is None and "appointment_reminder" not in s.deadlines
    assert slot_booked(worker, c) == 0
    assert len(sim.mail.find(ticket=inp.ticket_id, template="schedule_invite")) == 2
    assert c not in {o.slot_id for o in s.slot_offers}

    # A full slot: refused with the reason, and the ticket is left as it was.
    before = await state(handle)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("pick_slot", {"slot_id": full})
    # The reason itself is the update's failure (what the CLI and web show).
    assert refused.value.cause.message == f"slot {full} is full"
    s = await settle(handle, Status.pending_customer_scheduling)
    assert s.slot is None and s.day1 is None
    assert s.schedule_version == before.schedule_version and s.audits == before.audits
    assert slot_booked(worker, full) == 1

    # And a free one still works.
    await handle.execute_update("pick_slot", {"slot_id": a})
    s = await until(handle, confirmed(4), "fourth confirmation")
    assert slot_booked(worker, a) == 1
    assert [e.template for e in s.emails].count("appointment_confirmation") == 4
