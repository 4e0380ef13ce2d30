"""An on-prem ticket, end to end, through the public contract, against the real stand-ins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from domain import search_attributes as sa
from domain.refresh import Status, UpdateAck
from tests.workflows.helpers import (
    add_slot,
    as_local,
    ended,
    local,
    move_clock_to,
    offers,
    settle,
    start,
    state,
    ticket_input,
    until,
)


async def test_on_prem_ticket_lives_its_whole_life(env, worker, sim):
    # Friday before the July 4th weekend, after lunch: the ticket's business day is Friday,
    # Monday 2027-07-05 is the observed holiday, so the invite goes out Tuesday 10:05.
    await move_clock_to(env, local(2027, 7, 2, 14, 0))
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)

    s = await until(handle, lambda s: s.setup_done and s.next_wakeup, "setup")
    assert s.status == Status.pending_invite
    assert as_local(s.next_wakeup) == local(2027, 7, 6, 10, 5)
    tdx_ticket = sim.tdx.tickets[s.tdx.ticket_id]
    assert inp.ticket_id in tdx_ticket["Description"]
    assert sorted(t["Title"] for t in sim.tdx.tasks_for(s.tdx.ticket_id)) == [
        "Build",
        "Deliver",
        "Prestage replacement",
    ]
    [slack] = sim.slack.messages_in("#nit-central")
    assert inp.ticket_id in slack.text and str(s.tdx.ticket_id) in slack.text

    # The invite, at 10:05 on Tuesday, to the user.
    await env.sleep(s.next_wakeup - await env.get_current_time() + timedelta(seconds=1))
    s = await settle(handle, Status.pending_wizard)
    [invite] = sim.mail.find(ticket=inp.ticket_id, template="invite")
    assert invite.addressed_to("jdoe@example.edu")
    assert "http://deskflow.test/c/" in invite.text
    assert as_local(s.emails[0].at).date() == local(2027, 7, 6).date()
    assert as_local(s.deadlines["wizard_reminder_1"]) == local(2027, 7, 13, 10, 5)
    assert as_local(s.deadlines["wizard_reminder_2"]) == local(2027, 7, 20, 10, 5)
    assert as_local(s.deadlines["location_info"]) == local(2027, 7, 26, 10, 5)

    # The customer walks the wizard with a new room: Changed Location event + TDX ticket.
    ack = await handle.execute_update(
        "submit_wizard",
        {
            "location": "Mason Hall, 3300",
            "device": {"model": "Dell Precision 3590", "platform": "windows"},
            "peripherals": ["Dock WD22TB4", "Headset H5"],
            "software": ["MATLAB"],
        },
        result_type=UpdateAck,
    )
    assert ack == UpdateAck(ticket_id=inp.ticket_id, status=Status.pending_wizard)
    s = await settle(handle, Status.pending_approval)
    assert s.location == "Mason Hall, 3300" and s.device.model == "Dell Precision 3590"
    changed = [t for t in sim.tdx.tickets.values() if ":changed-location]" in t["Description"]]
    assert len(changed) == 1 and "Mason Hall, 3300" in changed[0]["Description"]
    # The reply waited for no database write and no search-attribute write, and what the
    # Confirm set off (the changed location's TDX ticket and event) started after it.
    assert not {
        "core_local_activity",
        "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
        "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
    } & set(await reply_task(handle, "submit_wizard"))
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(sa.REFRESH_STATUS) == Status.pending_approval.value

    # Only an approver of the config approves.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("approve", {"approver": "mallory"})
    assert "not an approver" in str(refused.value.cause)
    await handle.execute_update("approve", {"approver": "appr1", "comment": "ok"})
    await settle(handle, Status.pending_ordering)

    # Bulk assignment of a Windows replacement: prestaged, TDX prestage task closed.
    await handle.signal(
        "assign_replacement",
        {
            "replacement": {
                "serial": "NEW7450A",
                "platform": "windows",
                "model": "Dell Latitude 7450",
            }
        },
    )
    s = await settle(handle, Status.pending_itsm_existence)
    prestage = s.tdx.tasks["prestage"]
    assert sim.tdx.tasks[prestage]["PercentComplete"] == 100

    # TDX does not know the serial yet: the ticket waits, then finds it.
    sim.tdx.add_asset("NEW7450A", ProductModelName="Latitude 7450")
    await env.sleep(timedelta(minutes=3))
    s = await settle(handle, Status.pending_slot_discovery)

    # Discovery offers slots; the customer is invited to pick one.
    day1 = local(2027, 7, 13, 9, 0)
    slot_id = add_slot(worker, "nit-central", day1, capacity=3)
    await handle.signal("slots_available", offers(worker, slot_id))
    await settle(handle, Status.pending_customer_scheduling)
    assert len(sim.mail.find(ticket=inp.ticket_id, template="schedule_invite")) == 1

    await handle.execute_update("pick_slot", {"slot_id": slot_id})
    s = await until(handle, lambda s: s.confirmed_version == 1, "confirmation")
    assert s.status == Status.delivery_scheduled
    assert as_local(s.day1) == day1
    [confirmation] = sim.mail.find(ticket=inp.ticket_id, template="appointment_confirmation")
    assert [a.filename for a in confirmation.attachments] == ["appointment.ics"]
    build = sim.tdx.tasks[s.tdx.tasks["build"]]
    assert build["StartDate"].startswith("2027-07-13")
    # Reminder: the business day before day 1, 10:05.
    assert as_local(s.deadlines["appointment_reminder"]) == local(2027, 7, 12, 10, 5)

    await env.sleep(s.deadlines["appointment_reminder"] - await env.get_current_time())
    await until(
        handle, lambda s: any(e.template == "appointment_reminder" for e in s.emails), "reminder"
    )

    # Daily TDX check: the technician completes the Deliver task, then closes the ticket.
    sim.tdx.complete_task(s.tdx.ticket_id, s.tdx.tasks["deliver"])
    await env.sleep(timedelta(days=1, minutes=1))
    await settle(handle, Status.installed)
    sim.tdx.close_ticket(s.tdx.ticket_id)
    await env.sleep(timedelta(days=1, minutes=1))
    final = await ended(handle)
    assert final.status == Status.complete

    sent = [m.template for m in sim.mail.find(ticket=inp.ticket_id)]
    assert sorted(sent) == sorted(
        ["invite", "schedule_invite", "appointment_confirmation", "appointment_reminder"]
    )
    statuses = [a.to_status for a in final.audits if a.action == "status"]
    assert statuses == [
        "pending_wizard",
        "pending_approval",
        "pending_ordering",
        "pending_itsm_existence",
        "pending_slot_discovery",
        "pending_customer_scheduling",
        "delivery_scheduled",
        "installed",
        "complete",
    ]
    assert (await state(handle)).next_wakeup is None


async def reply_task(handle: WorkflowHandle, update: str) -> list[str]:
    """What the workflow task that answered `update` did besides answering (its events
    from the update's completion to the next workflow task): each event's type, a marker's
    name (a patch's `core_patch` is no wait; a local activity's `core_local_activity` is)."""
    events = [e async for e in handle.fetch_history_events()]
    accepted = next(
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        == update
    )
    done = []
    for e in events[accepted + 2 :]:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            break
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            done.append(e.marker_recorded_event_attributes.marker_name)
        else:
            done.append(EventType.Name(e.event_type))
    return done
