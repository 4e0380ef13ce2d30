"""An admin deletes a booked slot: the slot is gone, its customer is invited to pick again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.refresh import Status
from operations.slot_admin import SlotUnavailable, delete_slot_and_notify
from store.slots import SLOT_DELETED
from tests.schedules.helpers import (
    add_slot,
    bookings,
    get_slot,
    new_team,
    projected,
    sessions_for,
)
from tests.schedules.test_discovery import projected_status
from tests.test_cli import deskflow
from tests.workflows.helpers import (
    local,
    move_clock_to,
    on_prem_to_scheduling,
    settle,
    start,
    ticket_input,
    until,
)


async def test_deleting_a_booked_slot_reinvites_its_customer(env, worker, sim):
    team = new_team(worker)
    await move_clock_to(env, local(2027, 8, 2, 14, 0))
    a = add_slot(worker, team, local(2027, 8, 17, 9, 0), capacity=3)
    b = add_slot(worker, team, local(2027, 8, 18, 9, 0), capacity=3)
    handle = await start(env, worker, ticket_input("on_prem", team=team))
    tid = handle.id.removeprefix("refresh-")
    await on_prem_to_scheduling(env, sim, worker, handle, "NEWDEL001", [a, b])
    await handle.execute_update("pick_slot", {"slot_id": a})
    await until(handle, lambda s: s.confirmed_version == 1, "confirmation")
    await projected_status(worker, tid, Status.delivery_scheduled)
    assert get_slot(worker, a).booked == 1

    result = await delete_slot_and_notify(env.client, sessions_for(worker), a, "lead1")
    assert result.tickets == [tid] and result.notified == [tid] and not result.already_deleted

    slot = get_slot(worker, a)
    assert (slot.deleted_by, slot.booked) == ("lead1", 0) and slot.deleted_at is not None
    [booking] = bookings(worker, a)
    assert booking.ticket_id == tid and booking.released_reason == SLOT_DELETED

    # Back to discovery, then (slot b is still on offer) straight to a new invitation.
    s = await until(
        handle,
        lambda s: [e.template for e in s.emails].count("schedule_invite") == 2,
        "second schedule_invite",
    )
    s = await settle(handle, Status.pending_customer_scheduling)
    assert s.slot is None and [o.slot_id for o in s.slot_offers] == [b]
    assert len(sim.mail.find(ticket=tid, template="schedule_invite")) == 2
    statuses = [a.to_status for a in s.audits if a.action == "status"]
    assert statuses[-3:] == [
        "delivery_scheduled",
        "pending_slot_discovery",
        "pending_customer_scheduling",
    ]
    assert any(a.actor == "lead1" and "slot" in a.detail for a in s.audits)

    # Deleting again (a retry) notifies nobody: the ticket has left that slot.
    await until(handle, lambda s: projected(worker, tid).slot_id is None, "projection")
    again = await delete_slot_and_notify(env.client, sessions_for(worker), a, "lead1")
    assert again.already_deleted and again.notified == []
    # The customer picks again.
    await handle.execute_update("pick_slot", {"slot_id": b})
    await settle(handle, Status.delivery_scheduled)
    assert get_slot(worker, b).booked == 1

    with pytest.raises(SlotUnavailable, match="does not exist"):
        await delete_slot_and_notify(env.client, sessions_for(worker), 10**9, "lead1")


async def test_cli_slots_delete(env, worker):
    team = new_team(worker)
    slot = add_slot(worker, team, (await env.get_current_time()) + timedelta(days=5))
    code, out = await deskflow(env, worker, "slots", "delete", str(slot), "--by", "lead2")
    assert code == 0, out
    assert f"slot {slot} deleted by lead2; 0 ticket(s) asked to reschedule" in out
    assert get_slot(worker, slot).deleted_by == "lead2"
    code, out = await deskflow(env, worker, "slots", "delete", "999999999", "--by", "lead2")
    assert code == 1 and "slot 999999999 does not exist" in out
