"""A unit-specified-location ticket: nothing to enter, and the emails stress where to be."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.refresh import Status
from tests.workflows.helpers import (
    as_local,
    ended,
    failure_text,
    fresh_slot,
    invited,
    local,
    move_clock_to,
    offers,
    replacement,
    save_history,
    settle,
    sleep_until,
    start,
    state,
    ticket_input,
    until,
)

UNIT = "Duderstadt Center, room 1180"


async def test_unit_location_ticket_stresses_the_unit_location(env, worker, sim):
    await move_clock_to(env, local(2027, 4, 5, 14, 0))
    inp = ticket_input("unit_location", "eng-unit")
    handle = await start(env, worker, inp)
    s = await invited(env, handle)
    assert s.unit_location == UNIT
    # Only on-prem tickets announce themselves on Slack.
    assert sim.slack.messages_in("#nit-central") == []

    # The location page takes nothing: another location is refused, naming the unit's.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("submit_wizard", {"location": "Mason Hall, 3300"})
    assert f"this refresh takes place at {UNIT}; it cannot be changed" in failure_text(
        refused.value
    )
    assert (await state(handle)).status == Status.pending_wizard

    # Submitted with nothing entered; no approval on this config.
    await handle.execute_update("submit_wizard", {})
    s = await settle(handle, Status.pending_ordering)
    # No "changed location" ticket for NIT: the customer's location is not what matters here.
    assert not [t for t in sim.tdx.tickets.values() if ":changed-location]" in t["Description"]]

    sim.tdx.add_asset("P16NEW01")
    await handle.signal(
        "assign_replacement",
        {"replacement": replacement("P16NEW01", model="Lenovo ThinkPad P16")},
    )
    s = await settle(handle, Status.pending_slot_discovery)

    day1 = local(2027, 4, 20, 9, 10)
    slot_id = fresh_slot(worker, "nit-central", day1, capacity=3)
    await handle.signal("slots_available", offers(worker, slot_id))
    await settle(handle, Status.pending_customer_scheduling)
    [schedule_invite] = sim.mail.find(ticket=inp.ticket_id, template="schedule_invite")
    assert f"this refresh takes place at {UNIT}" in schedule_invite.text
    assert UNIT in schedule_invite.html

    await handle.execute_update("pick_slot", {"slot_id": slot_id})
    s = await until(handle, lambda s: s.confirmed_version == 1, "confirmation")
    assert s.status == Status.delivery_scheduled and as_local(s.day1) == day1
    [confirmation] = sim.mail.find(ticket=inp.ticket_id, template="appointment_confirmation")
    assert f"Important: please come to {UNIT} at that time." in confirmation.text
    assert UNIT in confirmation.html
    ics = confirmation.attachments[0].content.decode()
    assert "LOCATION:Duderstadt Center\\, room 1180" in ics

    # The reminder, 10:05 the business day before, says the customer needs to be there.
    assert as_local(s.deadlines["appointment_reminder"]) == local(2027, 4, 19, 10, 5)
    await sleep_until(env, s.deadlines["appointment_reminder"])
    await until(
        handle, lambda s: any(e.template == "appointment_reminder" for e in s.emails), "reminder"
    )
    [reminder] = sim.mail.find(ticket=inp.ticket_id, template="appointment_reminder")
    assert f"IMPORTANT: the refresh takes place at {UNIT}. You need to be there" in reminder.text
    assert UNIT in reminder.html
    assert reminder.addressed_to("jdoe@example.edu")

    sim.tdx.close_ticket(s.tdx.ticket_id)
    await env.sleep(timedelta(days=1, minutes=1))
    final = await ended(handle)
    assert final.status == Status.complete
    assert [e.template for e in final.emails] == [
        "invite",
        "schedule_invite",
        "appointment_confirmation",
        "appointment_reminder",
    ]
    await save_history(handle, "unit_location_complete")
