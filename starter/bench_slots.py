"""Bench figures of the slot jobs (to be wired into `deskflow bench`): no assertions here.

* `bench_generation`: nightly generation for 20 teams x 5 weeks (first run creates every
  slot; the second, idempotent one creates none);
* `bench_discovery`: 10,000 waiting tickets in the projection and 20 teams with 5 weeks of
  slots; how long the planning step takes (one SQL statement per team) and how many
  `slots_available` signals per second reach running workflows on a given client.

Both run on a scratch database (a temporary SQLite file unless `database_url` is given) with
teams, slots and tickets named `bench-<run>-...`, so they never touch real rows.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.schedule_slots import generate, signal_slots
from domain.refresh import SlotsAvailable, Status, workflow_id
from domain.scheduled_jobs import GenerateSlotsRequest
from store.db import make_engine, migrate, session_factory
from store.slot_discovery import plan_discovery
from store.tables import CalendarConfig, SlotPreference, SupportTeam, Ticket

# Three slots a weekday of 4 places: 300 places per team in 5 weeks, 6,000 for 20 teams, so
# with 10,000 waiting tickets the plan both invites and leaves some waiting, as in real life.
PREFERENCES = [("09:00", 60), ("11:00", 60), ("14:00", 90)]
CAPACITY = 4


def _scratch(database_url: str | None) -> sessionmaker[Session]:
    url = database_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='deskflow-bench-')) / 'b.db'}"
    migrate(url)
    sessions = session_factory(make_engine(url))
    with sessions.begin() as db:
        if db.get(CalendarConfig, 1) is None:
            db.add(
                CalendarConfig(
                    id=1,
                    timezone="America/Detroit",
                    business_start="05:00",
                    business_end="18:00",
                    country_holidays="US",
                    closed_days=[],
                )
            )
    return sessions


def _teams(sessions: sessionmaker[Session], run: str, n: int) -> list[str]:
    ids = [f"bench-{run}-team{i:02d}" for i in range(n)]
    with sessions.begin() as db:
        for team_id in ids:
            team = SupportTeam(
                id=team_id, name=team_id, slack_channel="#bench", default_location="Bench depot"
            )
            team.slot_preferences = [
                SlotPreference(
                    weekday=day,
                    start=start,
                    length_minutes=length,
                    capacity=CAPACITY,
                    location="Bench depot",
                )
                for day in range(5)
                for start, length in PREFERENCES
            ]
            db.add(team)
    return ids


def bench_generation(
    *,
    database_url: str | None = None,
    teams: int = 20,
    weeks: int = 5,
    now: datetime | None = None,
) -> dict[str, float | int]:
    """Generation for `teams` teams x `weeks` weeks: time of the first (creating) run and of
    the second (idempotent, creates nothing) run."""
    sessions = _scratch(database_url)
    run = uuid4().hex[:6]
    team_ids = _teams(sessions, run, teams)
    req = GenerateSlotsRequest(now=now or datetime.now(UTC), weeks=weeks, team_ids=team_ids)
    began = time.perf_counter()
    first = generate(sessions, req)
    first_s = time.perf_counter() - began
    began = time.perf_counter()
    again = generate(sessions, req)
    again_s = time.perf_counter() - began
    return {
        "generation_teams": teams,
        "generation_weeks": weeks,
        "generation_slots_created": first.created,
        "generation_s": first_s,
        "generation_slots_per_s": first.created / first_s if first_s else 0.0,
        "regeneration_slots_created": again.created,
        "regeneration_s": again_s,
    }


@workflow.defn(name="BenchSlotSink", sandboxed=False)
class BenchSlotSink:
    """Stands in for a waiting ticket: completes when it is offered slots."""

    def __init__(self) -> None:
        self.offers: int | None = None

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.offers is not None)
        return self.offers or 0

    @workflow.signal(name="slots_available")
    def slots_available(self, msg: SlotsAvailable) -> None:
        self.offers = len(msg.slots)


def _tickets(sessions: sessionmaker[Session], run: str, team_ids: list[str], n: int, now) -> None:
    rows = [
        {
            "ticket_id": f"bench-{run}-{i:05d}",
            "config_id": "bench",
            "batch_id": None,
            "style": "on_prem",
            "status": Status.pending_slot_discovery.value,
            "support_team": team_ids[i % len(team_ids)],
            "user_uniqname": f"u{i}",
            "user_email": f"u{i}@example.edu",
            "user_name": f"User {i}",
            "delegate_email": None,
            "existing_serial": f"BENCH{i:06d}",
            "replacement_serial": None,
            "tdx_ticket_id": None,
            "day1": None,
            "slot_id": None,
            "state": {},
            # Spread over the past 30 days, not in id order, so "oldest" is real work.
            "created_at": now - timedelta(minutes=(i * 7919) % 43_200),
            "updated_at": now,
        }
        for i in range(n)
    ]
    with sessions.begin() as db:
        for i in range(0, len(rows), 1000):
            db.execute(insert(Ticket), rows[i : i + 1000])


async def bench_discovery(
    client: Client,
    *,
    database_url: str | None = None,
    tickets: int = 10_000,
    teams: int = 20,
    weeks: int = 5,
    signal: bool = True,
    concurrency: int = 64,
) -> dict[str, float | int]:
    """Planning time for `tickets` waiting tickets over `teams` x `weeks` of slots, and the
    rate of `slots_available` signals to running workflows (one stand-in workflow per
    invited ticket, on a worker this function runs on its own task queue)."""
    sessions = _scratch(database_url)
    run = uuid4().hex[:6]
    now = datetime.now(UTC)
    team_ids = _teams(sessions, run, teams)
    generate(sessions, GenerateSlotsRequest(now=now, weeks=weeks, team_ids=team_ids))
    _tickets(sessions, run, team_ids, tickets, now)

    timings = []
    for _ in range(3):
        began = time.perf_counter()
        with sessions() as db:
            plan = plan_discovery(db, now, team_ids)
        timings.append(time.perf_counter() - began)
    planned = [(t, team.offers) for team in plan.teams for t in team.ticket_ids]
    figures: dict[str, float | int] = {
        "discovery_waiting_tickets": tickets,
        "discovery_teams": teams,
        "discovery_free_capacity": sum(t.free_capacity for t in plan.teams),
        "discovery_planned": len(planned),
        "discovery_plan_s": min(timings),
    }
    if not signal or not planned:
        return figures

    queue = f"bench-slots-{run}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[BenchSlotSink],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_concurrent_workflow_tasks=200,
    ):
        limit = asyncio.Semaphore(concurrency)

        async def start(ticket_id: str) -> WorkflowHandle:
            async with limit:
                return await client.start_workflow(
                    BenchSlotSink.run,
                    id=workflow_id(ticket_id),
                    task_queue=queue,
                    execution_timeout=timedelta(minutes=30),
                )

        began = time.perf_counter()
        sinks = await asyncio.gather(*(start(t) for t, _ in planned))
        figures["discovery_sink_starts_per_s"] = len(planned) / (time.perf_counter() - began)

        shared = asyncio.Semaphore(concurrency)
        began = time.perf_counter()
        results = await asyncio.gather(
            *(
                signal_slots(client, team.ticket_ids, team.offers, semaphore=shared)
                for team in plan.teams
                if team.ticket_ids
            )
        )
        elapsed = time.perf_counter() - began
        sent = sum(len(r.signalled) for r in results)
        figures["discovery_signals_sent"] = sent
        figures["discovery_signal_failures"] = sum(len(r.failed) for r in results)
        figures["discovery_signals_per_s"] = sent / elapsed if elapsed else 0.0

        async def finished(handle: WorkflowHandle) -> None:
            async with limit:
                await handle.result()

        # Every stand-in completes on its signal; wait for that before the worker stops.
        await asyncio.gather(*(finished(h) for h in sinks))
    return figures
