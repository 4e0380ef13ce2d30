"""Activities of the slot jobs: nightly generation, discovery's plan, and its signals.

Database work runs in sync functions (the worker's thread pool); signalling is async and
uses the worker's own Temporal client, many signals in flight at once but bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.tickets_db import load_calendar
from domain.refresh import SlotOffer, SlotsAvailable, workflow_id
from domain.scheduled_jobs import (
    DiscoveryPlan,
    DiscoveryPlanRequest,
    GenerateSlotsRequest,
    GenerateSlotsResult,
    SignalFailure,
    SignalSlotsRequest,
    SignalSlotsResult,
)
from domain.slot_generation import generation_window
from store.slot_discovery import plan_discovery
from store.slot_generation import generate_all

SIGNALS_IN_FLIGHT = 64
HEARTBEAT_EVERY = 50
# A ticket that no longer runs (completed, or only in the projection) cannot take the offer:
# reported, never retried.
GONE = (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)


def generate(sessions: sessionmaker[Session], req: GenerateSlotsRequest) -> GenerateSlotsResult:
    """Generation as a plain function (the activity, the bench)."""
    with sessions() as db:
        calendar = load_calendar(db, req.now.astimezone(UTC).date())
    today, through = generation_window(req.now, calendar.timezone, req.weeks)
    teams = generate_all(sessions, calendar, today, through, req.team_ids)
    return GenerateSlotsResult(today=today, through=through, teams=teams)


async def signal_slots(
    client: Client,
    ticket_ids: Sequence[str],
    offers: Sequence[SlotOffer],
    *,
    concurrency: int = SIGNALS_IN_FLIGHT,
    semaphore: asyncio.Semaphore | None = None,
    on_done: Callable[[int], None] | None = None,
) -> SignalSlotsResult:
    """Signal `slots_available` to `refresh-{id}` of each ticket, `concurrency` at a time.

    Re-signalling is harmless (the ticket replaces its offers; only its first move to
    pending_customer_scheduling sends the email), so a retried chunk may repeat tickets.
    Transient errors propagate (the activity is retried); a ticket whose workflow is gone is
    reported in `failed`. Pass one `semaphore` to several calls to bound them together.
    """
    msg = SlotsAvailable(slots=list(offers))
    limit = semaphore or asyncio.Semaphore(concurrency)
    result = SignalSlotsResult()
    done = 0

    async def one(ticket_id: str) -> None:
        nonlocal done
        async with limit:
            try:
                await client.get_workflow_handle(workflow_id(ticket_id)).signal(
                    "slots_available", msg
                )
            except RPCError as e:
                if e.status not in GONE:
                    raise
                result.failed.append(SignalFailure(ticket_id=ticket_id, reason=e.message))
            else:
                result.signalled.append(ticket_id)
            done += 1
            if on_done is not None:
                on_done(done)

    await asyncio.gather(*(one(t) for t in ticket_ids))
    order = {t: i for i, t in enumerate(ticket_ids)}
    result.signalled.sort(key=order.__getitem__)
    return result


class ScheduleSlotActivities:
    def __init__(self, client: Client, sessions: sessionmaker[Session]) -> None:
        self.client = client
        self.sessions = sessions

    @activity.defn(name="generate_schedule_slots")
    def generate_schedule_slots(self, req: GenerateSlotsRequest) -> GenerateSlotsResult:
        return generate(self.sessions, req)

    @activity.defn(name="plan_slot_discovery")
    def plan_slot_discovery(self, req: DiscoveryPlanRequest) -> DiscoveryPlan:
        with self.sessions() as db:
            return plan_discovery(db, req.now, req.team_ids, req.max_offers)

    @activity.defn(name="signal_slots_available")
    async def signal_slots_available(self, req: SignalSlotsRequest) -> SignalSlotsResult:
        def beat(n: int) -> None:
            if n % HEARTBEAT_EVERY == 0:
                activity.heartbeat(n)

        return await signal_slots(self.client, req.ticket_ids, req.offers, on_done=beat)
