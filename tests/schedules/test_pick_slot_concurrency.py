"""50 customers pick the same slot of capacity 3 at once, through the workflow's `pick_slot`.

tests/store/test_slots.py proves the rule on the store; this proves it end to end: 50 real
RefreshTicket workflows waiting in pending_customer_scheduling (started from a carried-over
state, the contract's continue-as-new input) each get the update at the same moment.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import WorkflowUpdateFailedError

from domain.refresh import SlotOffer, Status, TicketState
from tests.schedules.helpers import add_slot, bookings, get_slot, new_team
from tests.workflows.helpers import failure_text, replacement, start, ticket_input, until

CUSTOMERS = 50


async def test_fifty_customers_one_slot_of_three(env, worker):
    team = new_team(worker)
    now = await env.get_current_time()
    slot_id = add_slot(worker, team, now + timedelta(days=6), capacity=3)
    slot = get_slot(worker, slot_id)
    offer = SlotOffer(
        slot_id=slot_id, start=slot.start_at, end=slot.end_at, location=slot.location, free=3
    )

    handles = []
    for n in range(CUSTOMERS):
        inp = ticket_input("on_prem", team=team)
        resume = TicketState(
            ticket_id=inp.ticket_id,
            config_id=inp.config_id,
            style=inp.style,
            bump_down=False,
            status=Status.pending_customer_scheduling,
            support_team=team,
            user=inp.user,
            existing_system=inp.existing_system,
            replacement_system=replacement(f"NEWC{n:04d}"),
            location=inp.existing_system.location,
            wizard_submitted=True,
            approved_by="appr1",
            slot_offers=[offer],
            created_at=now,
        )
        handles.append(await start(env, worker, inp.model_copy(update={"resume": resume})))
    # 50 set-ups at once (200 TDX creates, each written down in SQLite): minutes on a starved
    # machine, whose writers also meet SQLite's busy timeout and retry.
    await asyncio.gather(*(until(h, lambda s: s.setup_done, "setup", timeout=180) for h in handles))

    async def pick(h) -> str:
        try:
            await h.execute_update("pick_slot", {"slot_id": slot_id})
        except WorkflowUpdateFailedError as e:
            return failure_text(e)
        return "booked"

    outcomes = await asyncio.gather(*(pick(h) for h in handles))
    assert outcomes.count("booked") == 3
    refused = [o for o in outcomes if o != "booked"]
    assert len(refused) == CUSTOMERS - 3
    assert all(f"slot {slot_id} is full" in o for o in refused), refused[0]
    assert get_slot(worker, slot_id).booked == 3
    active = [b for b in bookings(worker, slot_id) if b.released_at is None]
    assert len(active) == 3

    states = [await until(h, lambda s: s.status is not None, "state") for h in handles]
    booked = [s for s in states if s.slot is not None]
    assert len(booked) == 3 and {b.ticket_id for b in active} == {s.ticket_id for s in booked}
    assert all(s.status == Status.pending_customer_scheduling for s in states if s.slot is None)
