"""Approvers edit a ticket until pending_ordering; from then on they open TDX change requests."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.refresh import Status
from tests.workflows.helpers import (
    failure_text,
    invited,
    local,
    move_clock_to,
    settle,
    start,
    state,
    ticket_input,
)


async def test_edit_before_ordering_then_change_requests(env, worker, sim):
    await move_clock_to(env, local(2027, 8, 2, 14, 0))
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    await invited(env, handle)
    await handle.execute_update(
        "submit_wizard",
        {
            "location": "Angell Hall, 2001",
            "device": {"model": "Dell Latitude 7450", "platform": "windows"},
        },
    )
    s = await settle(handle, Status.pending_approval)
    assert s.device.model == "Dell Latitude 7450"

    # Only the config's approvers edit as approvers.
    edit = {"role": "approver", "device": {"model": "Dell Precision 3590", "platform": "windows"}}
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("edit", edit | {"actor": "mallory"})
    assert "mallory is not an approver of refresh config lsa-onprem" in failure_text(refused.value)
    assert (await state(handle)).device.model == "Dell Latitude 7450"

    await handle.execute_update("edit", edit | {"actor": "appr1"})
    s = await state(handle)
    assert s.device.model == "Dell Precision 3590" and s.status == Status.pending_approval
    [audit] = [a for a in s.audits if a.action == "edited"]
    assert (audit.actor, audit.detail) == ("appr1", "device")
    # An admin edits too (peripherals from the catalog), and that is audited separately.
    await handle.execute_update(
        "edit",
        {
            "actor": "admin",
            "role": "refresh_admin",
            "peripherals": ["Dock WD22TB4", "Keyboard KB900"],
        },
    )
    s = await state(handle)
    assert s.peripherals == ["Dock WD22TB4", "Keyboard KB900"]
    assert [(a.actor, a.detail) for a in s.audits if a.action == "edited"] == [
        ("appr1", "device"),
        ("admin", "peripherals"),
    ]

    # Change requests are for later.
    change = {"approver": "appr1", "description": "Please add a second monitor."}
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("request_change", change)
    assert "change requests are for tickets in pending_ordering or later" in failure_text(
        refused.value
    )

    await handle.execute_update("approve", {"approver": "appr1"})
    s = await settle(handle, Status.pending_ordering)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("edit", edit | {"actor": "appr1"})
    assert "approvers submit a change request (request_change) instead" in failure_text(
        refused.value
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("request_change", change | {"approver": "mallory"})
    assert "mallory is not an approver" in failure_text(refused.value)

    # Each change request is its own TDX ticket, and the update answers with its id.
    first = await handle.execute_update("request_change", change, result_type=int)
    second = await handle.execute_update(
        "request_change",
        {"approver": "appr1@example.edu", "description": "Ship the dock separately."},
        result_type=int,
    )
    main = s.tdx.ticket_id
    assert len({main, first, second}) == 3
    for tdx_id, text in ((first, "second monitor"), (second, "dock separately")):
        ticket = sim.tdx.tickets[tdx_id]
        assert ticket["Classification"] == 34  # TDX numbers: 34 is Change
        assert inp.ticket_id in ticket["Title"] and text in ticket["Description"]
    s = await settle(handle, Status.pending_ordering)
    assert [a.detail for a in s.audits if a.action == "change requested"] == [
        f"TDX {first}",
        f"TDX {second}",
    ]
    assert s.device.model == "Dell Precision 3590"
