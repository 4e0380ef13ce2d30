"""GenerateScheduleSlots and DiscoverScheduleSlots: the refresh calendar's scheduled jobs.

Both are short workflows started by Temporal Schedules (`starter.schedules`): nightly
generation of slots 5 weeks ahead, and twice-daily discovery that offers free slots to the
oldest waiting tickets. Either can also be started by hand with the same input.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.scheduled_jobs import (
        DISCOVER_WORKFLOW,
        GENERATE_WORKFLOW,
        DiscoverSlotsInput,
        DiscoveryPlan,
        DiscoveryPlanRequest,
        DiscoveryResult,
        GenerateSlotsInput,
        GenerateSlotsRequest,
        GenerateSlotsResult,
        SignalSlotsRequest,
        SignalSlotsResult,
        TeamDiscoveryPlan,
        TeamDiscoveryResult,
    )

DB_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
CHUNKS_IN_FLIGHT = 4


@workflow.defn(name=GENERATE_WORKFLOW)
class GenerateScheduleSlots:
    """Create every team's slots up to 5 weeks ahead of today (idempotent)."""

    @workflow.run
    async def run(self, inp: GenerateSlotsInput) -> GenerateSlotsResult:
        return await workflow.execute_activity(
            "generate_schedule_slots",
            GenerateSlotsRequest(now=workflow.now(), weeks=inp.weeks, team_ids=inp.team_ids),
            result_type=GenerateSlotsResult,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=DB_RETRY,
        )


@workflow.defn(name=DISCOVER_WORKFLOW)
class DiscoverScheduleSlots:
    """Offer slots to the oldest `pending_slot_discovery` tickets each team has room for.

    One activity plans every team (one SQL statement per team); then the tickets are
    signalled `slots_available` from activities, `chunk_size` tickets each, a few chunks at
    a time, each chunk many signals at a time.
    """

    @workflow.run
    async def run(self, inp: DiscoverSlotsInput) -> DiscoveryResult:
        plan = await workflow.execute_activity(
            "plan_slot_discovery",
            DiscoveryPlanRequest(
                now=workflow.now(), team_ids=inp.team_ids, max_offers=inp.max_offers
            ),
            result_type=DiscoveryPlan,
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=DB_RETRY,
        )
        results = {
            t.team_id: TeamDiscoveryResult(
                team_id=t.team_id,
                free_capacity=t.free_capacity,
                invited_before=t.invited,
                waiting=t.waiting,
            )
            for t in plan.teams
        }
        chunks = [
            (team, team.ticket_ids[i : i + inp.chunk_size])
            for team in plan.teams
            for i in range(0, len(team.ticket_ids), inp.chunk_size)
        ]
        limit = asyncio.Semaphore(CHUNKS_IN_FLIGHT)

        async def signal(team: TeamDiscoveryPlan, ticket_ids: list[str]) -> None:
            async with limit:
                done = await workflow.execute_activity(
                    "signal_slots_available",
                    SignalSlotsRequest(ticket_ids=ticket_ids, offers=team.offers),
                    result_type=SignalSlotsResult,
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(minutes=1),
                    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                )
            results[team.team_id].signalled.extend(done.signalled)
            results[team.team_id].failed.extend(done.failed)

        await asyncio.gather(*(signal(team, ids) for team, ids in chunks))
        order = {t.team_id: {tid: i for i, tid in enumerate(t.ticket_ids)} for t in plan.teams}
        for r in results.values():
            r.signalled.sort(key=order[r.team_id].__getitem__)
        return DiscoveryResult(teams=list(results.values()))
