"""Bench: resolving a 2,000-incident outage at the ServiceNow stand-in's rate limit.

The stand-in answers 429 past `RATE` calls per second (a fixed window, as a rate-limit rule
does); the figure is the time to resolve every linked incident, against the bound the limit
sets: the calls the resolution needed divided by the rate. A ratio near 1 means deskflow
runs at the ITSM's limit and loses nothing to waiting out 429s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from temporalio.client import Client

from domain.outages import OutageStatus
from domain.settings import Settings
from operations import outages as ops

ROOT = Path(__file__).resolve().parent.parent
RATE = 200  # calls per second the stand-in allows
WINDOW = 5.0


async def _until(fetch, check, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        value = await fetch()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench outage: gave up waiting; last {value!r}"[:500])
        await asyncio.sleep(0.2)


async def bench_outage_resolution(client: Client, settings: Settings, n: int = 2000) -> dict:
    from sim.app import SimServer
    from store.db import make_engine, migrate, session_factory
    from store.reference import load_reference_file
    from worker import build_workers

    async with SimServer(tdx_limit=10**6, tdx_create_limit=10**6, slack_per_second=1000) as sim:
        local = settings.model_copy(
            update={
                "servicenow_base_url": sim.servicenow_base_url,
                "tdx_base_url": sim.tdx_base_url,
                "slack_base_url": sim.slack_base_url,
                "smtp_port": sim.smtp_port,
                "task_queue": "bench-outage",
            }
        )
        migrate(local.database_url)
        with session_factory(make_engine(local.database_url)).begin() as db:
            load_reference_file(ROOT / "demo" / "reference.yaml", db)
        sn = sim.servicenow
        numbers = []
        for i in range(n):
            sn.store.put("sys_user", f"b{i}", {"name": f"Bench {i}", "email": f"b{i}@example.edu"})
            rec = sn.insert(
                "incident", {"short_description": "VPN", "caller_id": f"Bench {i}"}, False
            )
            numbers.append(rec["number"])

        async def act(name: str, **data):
            return await ops.outage_update(
                client, local.task_queue, "servicenow", "bench", name, data
            )

        async with contextlib.AsyncExitStack() as stack:
            for w in build_workers(client, local):
                await stack.enter_async_context(w)
            for i in range(0, n, 500):
                await act(
                    "report_potential",
                    service="VPN",
                    summary="bench",
                    incidents=numbers[i : i + 500],
                    reported_by="bench",
                )
            await act("confirm", owner_team="SNCC-Network", confirmed_by="bench")
            await _until(
                lambda: ops.outage_state(client, "bench"),
                lambda s: all(i.in_itsm for i in s.incidents.values()),
                timeout=1800,
            )
            sn.limit_rate(int(RATE * WINDOW), WINDOW)
            before, throttled = len(sn.calls), sn.throttled
            started = time.monotonic()
            await act("resolve", resolved_by="bench", notes="bench")
            await _until(
                lambda: ops.outage_state(client, "bench"),
                lambda s: s.status == OutageStatus.resolved,
                timeout=3600,
            )
            took = time.monotonic() - started
            calls = len(sn.calls) - before - (sn.throttled - throttled)
            refused = sn.throttled - throttled
            sn.limit_rate(None)
    bound = calls / RATE  # the calls the resolution needed, at the most the limit allows
    return {
        "outage_incidents": n,
        "outage_itsm_calls_per_s_limit": RATE,
        "outage_resolve_s": took,
        "outage_resolve_bound_s": bound,
        "outage_resolve_ratio_to_bound": bound / took if took else 0.0,
        "outage_itsm_calls": calls,
        "outage_itsm_calls_refused_429": refused,
    }
