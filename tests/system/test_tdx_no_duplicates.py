"""No duplicate TDX tickets or tasks when TDX answers after the client gave up (issue 8, #8).

Real worker, real dev server, the stand-in over HTTP: a quarter of all creates answer after
the client's timeout (and are carried out then), fail with a 500, or fail with a 502 after
the work was done. Every refresh ticket must end with exactly one TDX ticket and one of
each task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from activities.ticket_starts import initial_search_attributes
from domain.refresh import TicketState, workflow_id
from tests.workflows.helpers import ticket_input
from worker import build_workers

N = 100  # tickets: 100 ticket creates and 300 task creates
TIMEOUT = 0.5
SLOW = 2.5  # past the timeout plus Temporal's first retry interval (1 s)
SETTLE = 5.0  # with margin: the stand-in shares its event loop with the worker
CREATES = r"/(tickets|tasks)$"


def fast_settings(settings, queue: str):
    return settings.model_copy(
        update={
            "task_queue": queue,
            "tdx_timeout_seconds": TIMEOUT,
            "tdx_create_settle_seconds": SETTLE,
        }
    )


async def run_tickets(client, local, sim, n: int) -> list[TicketState]:
    inputs = [ticket_input("no_customer", "lab-loaners") for _ in range(n)]
    async with contextlib.AsyncExitStack() as stack:
        for w in build_workers(client, local):
            await stack.enter_async_context(w)
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    "RefreshTicket",
                    inp,
                    id=workflow_id(inp.ticket_id),
                    task_queue=local.task_queue,
                    search_attributes=initial_search_attributes(inp),
                )
                for inp in inputs
            )
        )
        states: list[TicketState] = []
        for handle in handles:
            for _ in range(1200):
                s = await handle.query("state", result_type=TicketState)
                if s.setup_done:
                    break
                await asyncio.sleep(0.1)
            states.append(s)
        for _ in range(200):  # slow answers still on their way may only now create
            if sim.tdx.in_flight == 0:
                break
            await asyncio.sleep(0.05)
    return states


def assert_one_of_each(sim, states: list[TicketState]) -> None:
    assert all(s.setup_done for s in states), [s.ticket_id for s in states if not s.setup_done]
    tickets = Counter(t["Description"].rsplit("[deskflow:", 1)[1] for t in sim.tdx.tickets.values())
    duplicates = {k: v for k, v in tickets.items() if v > 1}
    assert duplicates == {} and len(tickets) == len(states)
    tasks = Counter((t["TicketID"], t["Title"]) for t in sim.tdx.tasks.values())
    assert {k: v for k, v in tasks.items() if v > 1} == {}
    assert len(tasks) == 3 * len(states)
    for s in states:  # and the workflow holds the ones that exist
        assert s.tdx.ticket_id in sim.tdx.tickets
        assert {sim.tdx.tasks[t]["TicketID"] for t in s.tdx.tasks.values()} == {s.tdx.ticket_id}


async def test_a_quarter_of_creates_slow_or_failed_makes_no_duplicates(dev_env, settings, sim):
    sim.tdx.reset()
    sim.tdx.random.seed(8)
    # 25 % of creates misbehave: 12 % answer after the timeout, 7 % fail, 6 % fail after work.
    sim.tdx.fail("POST", CREATES, "timeout", count=None, delay=SLOW, chance=0.12)
    sim.tdx.fail("POST", CREATES, 500, count=None, chance=0.07 / 0.88)
    sim.tdx.fail("POST", CREATES, 502, count=None, chance=0.06 / 0.81, after_work=True)
    try:
        states = await run_tickets(dev_env.client, fast_settings(settings, "dup-25"), sim, N)
    finally:
        sim.tdx.clear_faults()
    creates = [
        c for c in sim.tdx.calls if c.method == "POST" and c.path.endswith(("tickets", "tasks"))
    ]
    assert len(creates) >= 4 * N
    assert sim.tdx.injected["timeout"] >= 20 and sim.tdx.injected["502"] >= 10
    assert_one_of_each(sim, states)


async def test_every_create_answered_after_the_timeout_makes_no_duplicates(dev_env, settings, sim):
    sim.tdx.reset()
    sim.tdx.fail("POST", CREATES, "timeout", count=None, delay=SLOW)
    try:
        states = await run_tickets(dev_env.client, fast_settings(settings, "dup-all"), sim, 10)
    finally:
        sim.tdx.clear_faults()
    assert sim.tdx.injected["timeout"] >= 40
    assert_one_of_each(sim, states)
