"""Driving service-desk tickets in tests: the stand-ins' clock on Temporal's, waiting on
clocks and mail, reading what was sent."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.sla_clock import ClockState
from tests.workflows.helpers import move_clock_to

TZ = ZoneInfo("America/Detroit")


def local(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ)


async def move_to(env: WorkflowEnvironment, sim, when: datetime) -> None:
    """Move Temporal's test clock to `when` and have both stand-ins stamp records with it."""
    await move_clock_to(env, when)
    await follow_clock(env, sim)


async def follow_clock(env: WorkflowEnvironment, sim) -> None:
    now = await env.get_current_time()
    sim.halo.clock = lambda: now
    sim.servicenow.clock = lambda: now


async def clock(handle: WorkflowHandle) -> ClockState:
    return await handle.query("state", result_type=ClockState)


async def until(fetch, check, what: str, timeout: float = 60.0) -> Any:
    """Poll `fetch()` in real time until `check(value)` holds. 60 s: on a loaded CI machine
    a `state` query the time-skipping server does not answer fails only after its own RPC
    timeout, so a few such asks can use up a shorter wait."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = await fetch()
        except Exception as exc:  # noqa: BLE001 - the workflow may not exist yet
            value = exc
        if not isinstance(value, Exception) and check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {value!r}")
        await asyncio.sleep(0.05)


async def written_back(halo, ticket_id: int) -> None:
    """Wait until deskflow's own writes on a new, unrouted Halo ticket (the routing, its note,
    the due dates) are in Halo and delivered back: a test that then loses deliveries loses
    the ones it means to, not these."""

    async def fetch():
        return halo.store.get("ticket", ticket_id), halo.actions(ticket_id)

    def done(got) -> bool:
        ticket, actions = got
        routed = any("deskflow routed" in a["note_html"] for a in actions)
        return bool(ticket["team"] and ticket["fixbydate"] and routed)

    await until(fetch, done, f"deskflow's write-backs on Halo ticket {ticket_id}")
    await halo.webhook.idle()


def mail(sim, ticket: str) -> Counter[tuple[str, str]]:
    """(template, recipient) -> how many emails of it the ticket sent."""
    return Counter(
        (m.template, ",".join(sorted(m.envelope_to))) for m in sim.mail.find(ticket=ticket)
    )


async def mail_settles(sim, ticket: str, expected: Counter, what: str) -> None:
    async def fetch():
        return mail(sim, ticket)

    await until(fetch, lambda got: got == expected, what)
    await asyncio.sleep(0.3)  # and nothing more arrives
    assert mail(sim, ticket) == expected, what


def plus(moment: datetime, **kw: float) -> datetime:
    return moment + timedelta(**kw)
