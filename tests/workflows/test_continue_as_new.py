"""Continue-as-new keeps the ticket whole: audits, emails, deadlines, timers, background checks.

`history_limit` (an extension of the start input) makes a ticket continue as new every few
steps, so these tests cross several runs. A note on the time-skipping test server: a query
that reaches it while the workflow task that continues the run as new is started makes it
lose the run ("workflow execution already completed" with no close event), and every later
query hangs; `helpers.state` therefore asks only between workflow tasks. When a message
arrived while a background check (asset lookup, daily TDX check) was pending, that server
lost the run the same way, so the first test sends no message while a check is pending; the
second proves exactly that case against a real dev server.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from uuid import uuid4

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from domain import search_attributes as sa
from domain.refresh import Status, TicketState, workflow_id
from operations.temporal_client import data_converter
from starter.dev_server import temporal_binary
from tests.workflows.helpers import (
    SHIP_TO,
    as_local,
    emails_to,
    ended,
    fires_at,
    invited,
    local,
    move_clock_to,
    replacement,
    save_history,
    sent,
    settle,
    start,
    state,
    ticket_input,
    until,
)

CAN = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW


async def runs(client, wid: str, first_run_id: str) -> list[tuple[str, list]]:
    """Every run of the workflow, oldest first, with its history events."""
    chain: list[tuple[str, list]] = []
    run_id: str | None = first_run_id
    while run_id:
        run = client.get_workflow_handle(wid, run_id=run_id)
        events = [e async for e in run.fetch_history_events()]
        chain.append((run_id, events))
        last = events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == CAN
            else None
        )
    return chain


def audits_intact(s: TicketState) -> None:
    assert [a.seq for a in s.audits] == list(range(1, len(s.audits) + 1))
    assert [a.action for a in s.audits].count("created") == 1


async def test_continue_as_new_keeps_state_and_timers(env, worker, sim):
    limit = 60
    await move_clock_to(env, local(2027, 3, 1, 14, 0))
    inp = ticket_input("remote", "med-remote", platform="mac", history_limit=limit)
    wid = workflow_id(inp.ticket_id)
    handle = await start(env, worker, inp)
    # Not pinned to a run: queries, updates and signals reach the current run.
    assert handle.run_id is None
    first_run = handle.result_run_id

    s = await invited(env, handle)
    before = s.deadlines
    assert as_local(before["wizard_reminder_1"]) == local(2027, 3, 9, 10, 5)

    # Sending the first reminder takes the run over its limit: the next run carries the
    # ticket on and waits for the second reminder at the same instant.
    s = await fires_at(env, handle, before["wizard_reminder_1"], sent("wizard_reminder"), "r1")
    s = await until(handle, lambda s: s.next_wakeup == before["wizard_reminder_2"], "waiting")
    # The run that sent the reminder may still be finishing its turn: wait for the next run.
    for _ in range(300):
        chain = await runs(env.client, wid, first_run)
        if len(chain) >= 2:
            break
        await asyncio.sleep(0.05)
    assert len(chain) >= 2, "expected a continue-as-new after the first reminder"
    s = await until(handle, lambda s: s.next_wakeup == before["wizard_reminder_2"], "waiting")
    assert (await handle.describe()).run_id == chain[-1][0] != first_run
    audits_intact(s)
    assert [e.template for e in s.emails] == ["invite", "wizard_reminder"]
    assert s.deadlines == {n: t for n, t in before.items() if n != "wizard_reminder_1"}
    # The new run did not set the ticket up again.
    assert len([t for t in sim.tdx.tickets.values() if ":tdx-ticket]" in t["Description"]]) == 1
    assert len(sim.tdx.tasks_for(s.tdx.ticket_id)) == 3
    s = await fires_at(env, handle, before["wizard_reminder_2"], sent("wizard_reminder", 2), "r2")

    await handle.execute_update("submit_wizard", {"shipping_address": SHIP_TO})
    await settle(handle, Status.pending_ordering)
    # The order group ships with a tracking number (no message while a check is pending).
    mac = replacement("CANMAC01", "mac") | {"tracking_number": "1ZCAN0000001"}
    await handle.signal("assign_replacement", {"replacement": mac})
    await settle(handle, Status.pending_itsm_existence)
    # The asset lookup retries in the background until TDX knows the serial.
    await env.sleep(timedelta(hours=2))
    assert (await state(handle)).status == Status.pending_itsm_existence
    sim.tdx.add_asset("CANMAC01")
    await env.sleep(timedelta(hours=1, minutes=1))
    await settle(handle, Status.pending_delivery)
    s = await until(handle, lambda s: s.tracking_emailed == "1ZCAN0000001", "tracking")
    # Days of daily checks without progress.
    for _ in range(3):
        await env.sleep(timedelta(days=1, minutes=1))
        s = await state(handle)
        assert s.status == Status.pending_delivery
    sim.tdx.complete_task(s.tdx.ticket_id, s.tdx.tasks["deliver"])
    sim.tdx.close_ticket(s.tdx.ticket_id)
    await env.sleep(timedelta(days=1, minutes=1))
    final = await ended(handle)

    assert final.status == Status.complete
    audits_intact(final)
    assert [a.to_status for a in final.audits if a.action == "status"] == [
        "pending_wizard",
        "pending_ordering",
        "pending_itsm_existence",
        "pending_delivery",
        "complete",
    ]
    # Each email exactly once although several runs passed through the ticket.
    expected = ["invite", "wizard_reminder", "wizard_reminder", "mac_mdm_request", "tracking"]
    assert [t for t, _ in emails_to(sim, inp.ticket_id)] == expected
    assert [e.template for e in final.emails] == expected

    chain = await runs(env.client, wid, first_run)
    assert len(chain) >= 3
    assert all(events[-1].event_type == CAN for _, events in chain[:-1])
    assert chain[-1][1][-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    # Kept small: no run grows far past the limit.
    assert max(len(events) for _, events in chain) < limit + 30
    await save_history(env.client.get_workflow_handle(wid, run_id=first_run), "remote_can_run1")
    await save_history(handle, "remote_can_last_run")


async def test_continue_as_new_while_a_background_check_is_pending_real_server(settings, sim):
    """Messages keep arriving while the asset lookup waits for its next retry: the run
    continues as new (cancelling the lookup) and the next run picks the lookup up again."""
    from worker import build_workers

    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=temporal_binary(),
        search_attributes=sa.ALL,
        dev_server_log_level="error",
    )
    sim.tdx.reset()
    local_settings = settings.model_copy(update={"task_queue": f"can-{uuid4().hex[:8]}"})
    async with env, contextlib.AsyncExitStack() as stack:
        for w in build_workers(env.client, local_settings):
            await stack.enter_async_context(w)
        inp = ticket_input(
            "no_customer", "lab-loaners", replacement=replacement("CANBUMP1"), history_limit=50
        )
        handle = await start(env, local_settings, inp)
        first_run = handle.result_run_id
        # The first lookup fails at once; the next attempt is two minutes away.
        await until(
            handle,
            lambda s: (
                s.status == Status.pending_itsm_existence
                and any(c.path.endswith("/assets/search") for c in sim.tdx.calls)
            ),
            "first lookup",
        )
        sim.tdx.add_asset("CANBUMP1")
        for _ in range(30):
            if (await handle.describe()).run_id != first_run:
                break
            await handle.signal("slots_available", {"slots": []})
            await asyncio.sleep(0.2)
        chain = await runs(env.client, wid := workflow_id(inp.ticket_id), first_run)
        assert len(chain) >= 2, "the run should have continued as new"
        # The new run's own lookup finds the serial now, long before the old retry was due.
        s = await until(handle, lambda s: s.status == Status.delivery_scheduled, "found", 10)
        audits_intact(s)
        assert [a.to_status for a in s.audits if a.action == "status"] == [
            "pending_itsm_existence",
            "delivery_scheduled",
        ]
        assert len([t for t in sim.tdx.tickets.values() if ":tdx-ticket]" in t["Description"]]) == 1
        await handle.execute_update("cancel", {"actor": "admin", "reason": "test over"})
        await handle.result()
        assert (await runs(env.client, wid, first_run))[-1][1][-1].event_type == (
            EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
        )
