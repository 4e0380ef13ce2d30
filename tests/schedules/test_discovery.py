"""DiscoverScheduleSlots with real RefreshTicket workflows waiting in pending_slot_discovery."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from uuid import uuid4

from domain.refresh import Status
from domain.scheduled_jobs import DISCOVER_WORKFLOW, DiscoverSlotsInput, DiscoveryResult
from store.slots import delete_slot
from tests.schedules.helpers import add_slot, new_team, project, projected, sessions_for
from tests.workflows.helpers import (
    local,
    move_clock_to,
    replacement,
    save_history,
    settle,
    sleep_until,
    start,
    state,
    ticket_input,
    until,
)


async def discover(env, worker, team: str, **extra) -> DiscoveryResult:
    with env.auto_time_skipping_disabled():
        handle = await env.client.start_workflow(
            DISCOVER_WORKFLOW,
            DiscoverSlotsInput(team_ids=[team], **extra),
            id=f"discover-{uuid4().hex[:8]}",
            task_queue=worker.task_queue,
        )
        result = DiscoveryResult.model_validate(await handle.result())
        await save_history(handle, "discover_schedule_slots")
        return result


async def projected_status(settings, ticket_id: str, status: Status, timeout: float = 10.0):
    """Wait until the ticket's projection row shows `status` (discovery reads the projection)."""
    deadline = time.monotonic() + timeout
    while (row := projected(settings, ticket_id)) is None or row.status != status.value:
        assert time.monotonic() < deadline, f"{ticket_id} projection is {row and row.status}"
        await asyncio.sleep(0.05)


async def waiting_tickets(env, sim, worker, team: str, n: int) -> list:
    """n lsa-onprem tickets of `team`, walked to pending_slot_discovery together."""
    handles = [await start(env, worker, ticket_input("on_prem", team=team)) for _ in range(n)]
    states = [await until(h, lambda s: s.setup_done and s.next_wakeup, "setup") for h in handles]
    await sleep_until(env, max(s.next_wakeup for s in states))

    async def walk(i: int, h) -> None:
        await settle(h, Status.pending_wizard)
        await h.execute_update("submit_wizard", {"location": "Angell Hall, 2001"})
        await settle(h, Status.pending_approval)
        await h.execute_update("approve", {"approver": "appr1"})
        await settle(h, Status.pending_ordering)
        serial = f"NEW{uuid4().hex[:8].upper()}"
        sim.tdx.add_asset(serial)
        await h.signal("assign_replacement", {"replacement": replacement(serial)})
        await settle(h, Status.pending_slot_discovery)

    await asyncio.gather(*(walk(i, h) for i, h in enumerate(handles)))
    for h in handles:
        await projected_status(worker, h.id.removeprefix("refresh-"), Status.pending_slot_discovery)
    return handles


async def test_discovery_invites_as_many_as_capacity_allows_oldest_first(env, worker, sim):
    team = new_team(worker)
    await move_clock_to(env, local(2027, 9, 13, 14, 0))  # a Monday
    handles = await waiting_tickets(env, sim, worker, team, 5)
    ids = [h.id.removeprefix("refresh-") for h in handles]

    # Two open slots of 2 places (4 free); a deleted and a past slot do not count. One
    # customer is already invited (pending_customer_scheduling, nothing booked yet).
    now = await env.get_current_time()
    slot_a = add_slot(worker, team, now + timedelta(days=7), capacity=2)
    slot_b = add_slot(worker, team, now + timedelta(days=8), capacity=2)
    add_slot(worker, team, now - timedelta(hours=2), capacity=5)
    gone = add_slot(worker, team, now + timedelta(days=9), capacity=5)
    with sessions_for(worker).begin() as db:
        delete_slot(db, gone, "lead", now)
    project(
        worker,
        f"invited-{uuid4().hex[:6]}",
        support_team=team,
        status=Status.pending_customer_scheduling.value,
    )

    # Creation order, oldest first: ids[3], ids[1], ids[4], ids[0], ids[2].
    order = [3, 1, 4, 0, 2]
    for rank, i in enumerate(order):
        project(worker, ids[i], created_at=now - timedelta(days=30 - rank))

    result = await discover(env, worker, team, chunk_size=2)
    [plan] = result.teams
    assert (plan.free_capacity, plan.invited_before, plan.waiting) == (4, 1, 5)
    assert plan.signalled == [ids[3], ids[1], ids[4]] and plan.failed == []

    for i in (3, 1, 4):
        s = await settle(handles[i], Status.pending_customer_scheduling)
        assert [o.slot_id for o in s.slot_offers] == [slot_a, slot_b]
        assert [o.free for o in s.slot_offers] == [2, 2]
        assert [e.template for e in s.emails].count("schedule_invite") == 1
    for i in (0, 2):
        s = await state(handles[i])
        assert s.status == Status.pending_slot_discovery and s.slot_offers == []
        assert sim.mail.find(ticket=ids[i], template="schedule_invite") == []

    # Next run: the invited fill the capacity, nobody else is invited.
    for i in (3, 1, 4):
        await projected_status(worker, ids[i], Status.pending_customer_scheduling)
    again = await discover(env, worker, team)
    assert again.signalled == [] and again.teams[0].invited_before == 4

    # A customer books: one place less, one invited less; still nobody new.
    await handles[3].execute_update("pick_slot", {"slot_id": slot_a})
    await settle(handles[3], Status.delivery_scheduled)
    await projected_status(worker, ids[3], Status.delivery_scheduled)
    assert (await discover(env, worker, team)).signalled == []

    # A new slot with one place: the next oldest waiting ticket is invited.
    add_slot(worker, team, now + timedelta(days=10), capacity=1)
    more = await discover(env, worker, team)
    assert more.signalled == [ids[0]]
    await settle(handles[0], Status.pending_customer_scheduling)
    assert (await state(handles[2])).status == Status.pending_slot_discovery


async def test_a_ticket_without_workflow_is_reported_not_fatal(env, worker):
    team = new_team(worker)
    now = await env.get_current_time()
    add_slot(worker, team, now + timedelta(days=3), capacity=1)
    ghost = f"ghost-{uuid4().hex[:6]}"
    project(worker, ghost, support_team=team)
    result = await discover(env, worker, team)
    [plan] = result.teams
    assert plan.signalled == [] and [f.ticket_id for f in plan.failed] == [ghost]
