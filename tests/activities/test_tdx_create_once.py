"""A create whose answer was lost is never made twice, however late TDX carries it out."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest
from temporalio.exceptions import ApplicationError

from activities.tdx import TdxActivities
from activities.tdx_client import TdxClient
from domain.activity_requests import TdxTaskRequest, TdxTicketRequest
from store.db import make_engine, session_factory
from tests.activities.helpers import attempt, until_quiet

TIMEOUT = 0.3  # the client gives up after this
SLOW = 0.8  # the stand-in answers (and creates) after this
SETTLE = 1.5  # TDX's longest processing time, as deskflow is told


@pytest.fixture
def acts(settings) -> TdxActivities:
    local = settings.model_copy(
        update={"tdx_timeout_seconds": TIMEOUT, "tdx_create_settle_seconds": SETTLE}
    )
    client = TdxClient.from_settings(local, min_retry_after=timedelta(0))
    return TdxActivities(local, session_factory(make_engine(local.database_url)), client)


async def test_a_slow_ticket_create_is_found_not_repeated(acts, sim):
    sim.tdx.reset()
    sim.tdx.fail("POST", r"/tickets$", "timeout", delay=SLOW)
    req = TdxTicketRequest(
        key=f"slow-{uuid4().hex[:8]}", ticket_id="slow", kind="refresh", title="t", description="d"
    )
    first = await attempt(acts.create_ticket, req)
    assert isinstance(first, ApplicationError) and first.type == "TdxDown"
    # TDX has not carried the first request out yet: the retry waits instead of creating.
    second = await attempt(acts.create_ticket, req)
    assert isinstance(second, ApplicationError) and second.type == "TdxCreatePending"
    assert timedelta(0) < second.next_retry_delay <= timedelta(seconds=SETTLE)
    assert len(sim.tdx.tickets) == 0
    await until_quiet(sim.tdx)
    third = await attempt(acts.create_ticket, req)
    assert not isinstance(third, ApplicationError) and not third.created
    assert list(sim.tdx.tickets) == [third.tdx_ticket_id]


async def test_a_create_that_really_failed_is_made_once_the_wait_is_over(acts, sim):
    sim.tdx.reset()
    parent = sim.tdx.create_ticket(46, {"TypeID": 1, "Title": "p", "AccountID": 1, "StatusID": 1})
    req = TdxTaskRequest(ticket_id="lost", tdx_ticket_id=parent["ID"], kind="build", title="Build")
    sim.tdx.fail("POST", r"/tasks$", 502)  # a gateway error: did TDX create it? unknown
    assert (await attempt(acts.create_task, req)).type == "TdxError"
    assert (await attempt(acts.create_task, req)).type == "TdxCreatePending"
    await asyncio.sleep(SETTLE)
    task_id = await attempt(acts.create_task, req)
    assert isinstance(task_id, int) and [t["ID"] for t in sim.tdx.tasks_for(parent["ID"])] == [
        task_id
    ]


async def test_a_429_is_clearly_not_carried_out_so_the_retry_creates_at_once(acts, sim):
    sim.tdx.reset()
    sim.tdx.fail("POST", r"/tickets$", 429, reset_after=0)
    req = TdxTicketRequest(
        key=f"rl-{uuid4().hex[:8]}", ticket_id="rl", kind="refresh", title="t", description="d"
    )
    assert (await attempt(acts.create_ticket, req)).type == "TdxRateLimited"
    made = await attempt(acts.create_ticket, req)
    assert made.created and list(sim.tdx.tickets) == [made.tdx_ticket_id]
