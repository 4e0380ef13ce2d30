"""Bad updates are refused by the validators: a clear message, no trace, the ticket unchanged.

The table runs against one time-skipping server for the whole module: a refused update
changes nothing, so the cases of a status share one ticket (made on first use, and made
again should the clock have moved it on). The time-skipping test server records the empty
workflow task that ran a refused validator (a real server drops it), so there the check is
that no update was admitted, accepted or completed and nothing else was written; the last
test repeats the strict "not one event" check on a real dev server.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain import search_attributes as sa
from domain.refresh import Status
from domain.settings import Settings
from operations.temporal_client import data_converter
from starter.dev_server import register_search_attributes, temporal_binary
from tests.workflows.helpers import (
    SHIP_TO,
    failure_text,
    history_events,
    invited,
    local,
    move_clock_to,
    replacement,
    settle,
    start,
    state,
    ticket_input,
    until,
)

TEST_SERVER = Path(sys.executable).with_name("temporal-test-server")
WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}
PAST_SLOT = 999_001


@dataclass
class Shared:
    env: WorkflowEnvironment
    settings: Settings
    sim: Any
    tickets: dict[str, WorkflowHandle] = field(default_factory=dict)


async def _workers(env: WorkflowEnvironment, settings: Settings) -> contextlib.AsyncExitStack:
    from worker import build_workers

    stack = contextlib.AsyncExitStack()
    for w in build_workers(env.client, settings):
        await stack.enter_async_context(w)
    return stack


@pytest.fixture(scope="module")
async def shared(settings: Settings, sim) -> AsyncIterator[Shared]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(settings), test_server_existing_path=str(TEST_SERVER)
    )
    await register_search_attributes(env.client)
    sim.tdx.reset()
    sim.mail.clear()
    local_settings = settings.model_copy(update={"task_queue": f"validators-{uuid4().hex[:8]}"})
    async with env:
        stack = await _workers(env, local_settings)
        async with stack:
            await move_clock_to(env, local(2027, 10, 4, 14, 0))
            yield Shared(env, local_settings, sim)


async def _make(sh: Shared, setup: str) -> WorkflowHandle:
    env, settings = sh.env, sh.settings
    if setup == "pending_invite":
        handle = await start(env, settings, ticket_input("on_prem", "lsa-onprem"))
        await until(handle, lambda s: s.setup_done and s.next_wakeup, "setup")
    elif setup == "pending_wizard":
        handle = await start(env, settings, ticket_input("on_prem", "lsa-onprem"))
        await invited(env, handle)
    elif setup == "pending_wizard_remote":
        handle = await start(env, settings, ticket_input("remote", "med-remote"))
        await invited(env, handle)
    elif setup == "pending_approval":
        handle = await start(env, settings, ticket_input("on_prem", "lsa-onprem"))
        await invited(env, handle)
        await handle.execute_update("submit_wizard", {"location": "Angell Hall, 2001"})
    elif setup == "pending_ordering":
        handle = await start(env, settings, ticket_input("no_customer", "lab-loaners"))
        await until(handle, lambda s: s.setup_done, "setup")
    elif setup == "pending_customer_scheduling":
        # A bump-down unit-location ticket goes there without ordering; discovery offers it a
        # slot that has already started.
        serial = f"BUMP{uuid4().hex[:6].upper()}"
        sh.sim.tdx.add_asset(serial)
        inp = ticket_input("unit_location", "eng-unit", replacement=replacement(serial))
        handle = await start(env, settings, inp)
        await invited(env, handle)
        await handle.execute_update("submit_wizard", {})
        await settle(handle, Status.pending_slot_discovery)
        now = await env.get_current_time()
        past = now - timedelta(hours=2)
        offer = {
            "slot_id": PAST_SLOT,
            "start": past,
            "end": past + timedelta(hours=1),
            "location": "Central Depot",
            "free": 3,
        }
        await handle.signal("slots_available", {"slots": [offer]})
    else:
        raise AssertionError(setup)
    return handle


async def ticket_in(sh: Shared, setup: str) -> WorkflowHandle:
    want = Status(setup.removesuffix("_remote"))
    handle = sh.tickets.get(setup)
    if handle is None or (await state(handle)).status != want:
        handle = sh.tickets[setup] = await _make(sh, setup)
    await settle(handle, want)
    return handle


LSA_WIZARD = {"location": "Angell Hall, 2001"}
CASES = [
    pytest.param(
        "pending_approval",
        "approve",
        {"approver": "mallory"},
        "mallory is not an approver of refresh config lsa-onprem",
        id="approve-wrong-approver",
    ),
    pytest.param(
        "pending_approval",
        "reject",
        {"approver": "mallory", "comment": "no"},
        "mallory is not an approver of refresh config lsa-onprem",
        id="reject-wrong-approver",
    ),
    pytest.param(
        "pending_approval",
        "edit",
        {"actor": "mallory", "role": "approver", "software": ["SPSS"]},
        "mallory is not an approver",
        id="edit-wrong-approver",
    ),
    pytest.param(
        "pending_approval",
        "approve",
        {"approver": "appr1", "commment": "typo"},
        "Extra inputs are not permitted",
        id="unknown-field",
    ),
    pytest.param(
        "pending_wizard_remote",
        "submit_wizard",
        {"shipping_address": SHIP_TO | {"postal_code": "4810"}},
        "ZIP code must be 5 digits or ZIP+4",
        id="bad-zip",
    ),
    pytest.param(
        "pending_wizard_remote",
        "submit_wizard",
        {"shipping_address": SHIP_TO | {"state": "Michigan"}},
        "'MICHIGAN' is not a US state or territory code",
        id="bad-state",
    ),
    pytest.param(
        "pending_wizard_remote",
        "submit_wizard",
        {"software": []},
        "shipping_address: a shipping address is required for @home refresh",
        id="no-shipping-address",
    ),
    pytest.param(
        "pending_wizard_remote",
        "submit_wizard",
        {"shipping_address": SHIP_TO, "peripherals": ["Dock WD22TB4", "Monitor P2425H"]},
        "peripherals: this refresh provides the standard peripheral bundle",
        id="peripherals-not-customizable",
    ),
    pytest.param(
        "pending_wizard_remote",
        "submit_wizard",
        {"shipping_address": SHIP_TO, "software": ["MATLAB"]},
        "software: this refresh does not take software requests",
        id="software-not-requestable",
    ),
    pytest.param(
        "pending_wizard",
        "submit_wizard",
        LSA_WIZARD | {"device": {"model": "Lenovo ThinkPad P16", "platform": "windows"}},
        "Lenovo ThinkPad P16 is not an approved windows model for LSA",
        id="model-not-approved-for-org",
    ),
    pytest.param(
        "pending_wizard",
        "submit_wizard",
        LSA_WIZARD | {"device": {"model": "MacBook Air 13 M4", "platform": "mac"}},
        "device.platform: this refresh keeps the windows platform",
        id="other-platform",
    ),
    pytest.param(
        "pending_wizard",
        "submit_wizard",
        LSA_WIZARD | {"software": ["MATLAB", "Photoshop"]},
        "software: not in the software catalog: Photoshop",
        id="software-not-in-catalog",
    ),
    pytest.param(
        "pending_wizard",
        "submit_wizard",
        LSA_WIZARD | {"peripherals": ["Dock WD22TB4", "Gaming Chair"]},
        "peripherals: not approved for LSA: Gaming Chair",
        id="peripheral-not-approved",
    ),
    pytest.param(
        "pending_wizard",
        "submit_wizard",
        {"location": "   "},
        "location: enter the building and room of the computer",
        id="on-prem-without-location",
    ),
    pytest.param(
        "pending_wizard",
        "approve",
        {"approver": "appr1"},
        "ticket is pending_wizard; this needs pending_approval",
        id="approve-while-pending-wizard",
    ),
    pytest.param(
        "pending_wizard",
        "provide_location",
        {"actor": "nit-lead", "location": "Mason Hall, 3300"},
        "ticket is pending_wizard; this needs pending_location_info",
        id="provide-location-while-pending-wizard",
    ),
    pytest.param(
        "pending_invite",
        "pick_slot",
        {"slot_id": 1},
        "ticket is pending_invite; this needs pending_customer_scheduling, delivery_scheduled",
        id="pick-slot-while-pending-invite",
    ),
    pytest.param(
        "pending_invite",
        "request_change",
        {"approver": "appr1", "description": "Add a monitor, please."},
        "change requests are for tickets in pending_ordering or later",
        id="request-change-before-ordering",
    ),
    pytest.param(
        "pending_invite",
        "release",
        {"actor": "nit-lead"},
        "ticket is pending_invite; this needs on_hold",
        id="release-when-not-held",
    ),
    pytest.param(
        "pending_ordering",
        "edit",
        {"actor": "admin", "role": "refresh_admin", "software": []},
        "ticket is pending_ordering: from pending_ordering on, approvers submit a change request",
        id="edit-after-pending-ordering",
    ),
    pytest.param(
        "pending_ordering",
        "submit_wizard",
        {},
        "ticket is pending_ordering; this needs pending_wizard",
        id="wizard-on-no-customer-ticket",
    ),
    pytest.param(
        "pending_customer_scheduling",
        "pick_slot",
        {"slot_id": PAST_SLOT},
        f"slot {PAST_SLOT} is in the past",
        id="slot-in-the-past",
    ),
    pytest.param(
        "pending_customer_scheduling",
        "reschedule",
        {"slot_id": PAST_SLOT, "actor": "nit-lead"},
        f"slot {PAST_SLOT} is in the past",
        id="staff-reschedule-into-the-past",
    ),
]


@pytest.mark.parametrize(("setup", "update", "payload", "message"), CASES)
async def test_bad_update_is_refused_without_a_trace(shared, setup, update, payload, message):
    handle = await ticket_in(shared, setup)
    before = await state(handle)
    events = await history_events(handle)

    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(update, payload)
    assert message in failure_text(refused.value)

    added = (await history_events(handle))[len(events) :]
    assert {e.event_type for e in added} <= WORKFLOW_TASK_EVENTS, [e.event_type for e in added]
    assert await state(handle) == before


async def test_refused_update_adds_no_history_event_on_a_real_server(settings, sim):
    """On a real server a refused update's workflow task is dropped: the history is as before."""
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=temporal_binary(),
        search_attributes=sa.ALL,
        dev_server_log_level="error",
    )
    sim.tdx.reset()
    local_settings = settings.model_copy(update={"task_queue": f"strict-{uuid4().hex[:8]}"})
    async with env:
        stack = await _workers(env, local_settings)
        async with stack:
            handle = await start(env, local_settings, ticket_input("no_customer", "lab-loaners"))
            await until(handle, lambda s: s.setup_done, "setup")
            before = await settle(handle, Status.pending_ordering)
            events = await history_events(handle)
            refusals = [
                ("edit", {"actor": "admin", "role": "refresh_admin", "software": []}),
                ("approve", {"approver": "appr1"}),
                ("request_change", {"approver": "mallory", "description": "a new dock"}),
                ("cancel", {"actor": "admin", "reason": "x", "unknown": 1}),
            ]
            for update, payload in refusals:
                with pytest.raises(WorkflowUpdateFailedError):
                    await handle.execute_update(update, payload)
            after = await history_events(handle)
            assert [e.event_type for e in after] == [e.event_type for e in events]
            assert await state(handle) == before
            # ...while an accepted update is in the history.
            await handle.execute_update("hold", {"actor": "nit-lead"})
            added = {e.event_type for e in (await history_events(handle))[len(events) :]}
            assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED in added
            await handle.execute_update("cancel", {"actor": "admin", "reason": "test over"})
            await handle.result()
