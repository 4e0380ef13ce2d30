"""Latency of a wizard submit under load: `await bench_wizard_submit(concurrency=100)`.

Everything runs on fresh servers, laid out as deployed: the time-skipping Temporal test
server, the real worker (`python worker.py`) and the web app (`uvicorn web.app:create_app`)
each in a process of its own, the stand-ins and the customers' browsers (one HTTP client
each) in this one, and a fresh SQLite app database with the demo reference data.

`concurrency` customers, each with an on-prem ticket in pending_wizard, at once: open the
review page, confirm (the `submit_wizard` update), follow the redirect to their status page.
Figures are milliseconds: `p50_ms`/`p95_ms` for that whole round, `submit_*` for the confirm
request alone (page -> update -> response).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "lsa-fy27-onprem"
TEAM = "nit-central"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _ticket(n: int, run: str):
    from domain.refresh import RefreshTicketInput

    return RefreshTicketInput.model_validate(
        {
            "ticket_id": f"wbench-{run}-{n}",
            "config_id": CONFIG,
            "style": "on_prem",
            "user": {"uniqname": f"u{n}", "name": f"User {n}", "email": f"u{n}@example.edu"},
            "existing_system": {
                "serial": f"WB{run}{n:05d}",
                "platform": "windows",
                "model": "Dell Latitude 5420",
                "location": "Angell Hall, 2001",
            },
            "support_team": TEAM,
        }
    )


async def _until_all(client, ticket_ids: list[str], status: str, timeout: float = 180) -> None:
    from domain.refresh import TicketState, workflow_id

    deadline = time.monotonic() + timeout
    waiting = set(ticket_ids)
    while waiting:
        for tid in list(waiting):
            s = await client.get_workflow_handle(workflow_id(tid)).query(
                "state", result_type=TicketState
            )
            if s.status.value == status and s.setup_done:
                waiting.discard(tid)
        if waiting and time.monotonic() > deadline:
            raise RuntimeError(f"{len(waiting)} bench tickets never reached {status}")
        await asyncio.sleep(0.1)


async def _customer(http: httpx.AsyncClient, token: str) -> tuple[float, float]:
    """(whole round, confirm alone) in seconds for one customer."""
    began = time.perf_counter()
    page = await http.get(f"/c/{token}/wizard/review")
    page.raise_for_status()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if csrf is None:
        raise RuntimeError("no CSRF token on the review page")
    submit_began = time.perf_counter()
    r = await http.post(
        f"/c/{token}/wizard/review", data={"csrf_token": csrf.group(1)}, follow_redirects=False
    )
    submitted = time.perf_counter()
    if r.status_code != 303:
        raise RuntimeError(f"wizard submit answered {r.status_code}: {r.text[:200]}")
    (await http.get(r.headers["location"])).raise_for_status()
    return time.perf_counter() - began, submitted - submit_began


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _processes(env: dict[str, str], workdir: Path, web_port: int) -> Iterator[None]:
    """The worker and the web app, each its own process; stopped (by pid) on exit."""
    from starter.dev_server import wait_for_port

    py = sys.executable
    web = [py, "-m", "uvicorn", "web.app:create_app", "--factory", "--host", "127.0.0.1"]
    web += ["--port", str(web_port), "--log-level", "warning", "--no-access-log"]
    procs = [
        subprocess.Popen([py, str(ROOT / "worker.py")], env=env, cwd=workdir),
        subprocess.Popen(web, env=env, cwd=workdir),
    ]
    try:
        wait_for_port("127.0.0.1", web_port, timeout=60)
        yield
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


async def bench_wizard_submit(concurrency: int = 100) -> dict[str, Any]:
    """p50/p95 latency (ms) of page -> submit_wizard update -> response, `concurrency` at once."""
    from temporalio.testing import WorkflowEnvironment

    from domain.customer_links import sign
    from domain.settings import Settings
    from operations.temporal_client import data_converter
    from sim.app import SimServer
    from starter.dev_server import register_search_attributes
    from store.db import make_engine, migrate, session_factory
    from store.reference import load_reference_file

    workdir = Path(tempfile.mkdtemp(prefix="deskflow-wbench-"))
    run = f"{int(time.time()) % 100000:05d}"
    async with SimServer(tdx_limit=10**6, tdx_create_limit=10**6, slack_per_second=10**4) as sim:
        values = {
            "database_url": f"sqlite:///{workdir / 'app.db'}",
            "tdx_base_url": sim.tdx_base_url,
            "slack_base_url": sim.slack_base_url,
            "smtp_port": str(sim.smtp_port),
            "task_queue": "wbench",
            "tdx_max_calls_per_minute": "1000000",
            "tdx_max_creates_per_minute": "1000000",
            "secret_key": "bench-secret",
            "dev": "true",  # a throwaway secret and a derived codec key are fine here
        }
        settings = Settings(_env_file=None, **values)
        migrate(settings.database_url)
        with session_factory(make_engine(settings.database_url)).begin() as db:
            load_reference_file(ROOT / "demo" / "reference.yaml", db)
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=data_converter(settings),
            test_server_existing_path=str(Path(sys.executable).with_name("temporal-test-server")),
        )
        async with env:
            await register_search_attributes(env.client)
            child_env = {
                k: v for k, v in os.environ.items() if not k.startswith(("DESKFLOW_", "TEMPORAL_"))
            }
            child_env |= {f"DESKFLOW_{k.upper()}": v for k, v in values.items()}
            child_env |= {
                "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
                "PYTHONPATH": str(ROOT),
            }
            web_port = _free_port()
            with _processes(child_env, workdir, web_port):
                results, wall = await _drive(env, settings, concurrency, run, web_port, sign)
    rounds = [r[0] * 1000 for r in results]
    submits = [r[1] * 1000 for r in results]
    return {
        "concurrency": len(results),
        "p50_ms": round(statistics.median(rounds), 1),
        "p95_ms": round(_percentile(rounds, 0.95), 1),
        "max_ms": round(max(rounds), 1),
        "submit_p50_ms": round(statistics.median(submits), 1),
        "submit_p95_ms": round(_percentile(submits, 0.95), 1),
        "wall_s": round(wall, 2),
    }


async def _drive(env, settings, concurrency: int, run: str, web_port: int, sign):
    from activities.ticket_starts import initial_search_attributes
    from domain.refresh import workflow_id

    # A Monday 14:00 (Detroit) a week or more ahead: the invites go out Tuesday 10:05.
    tz = ZoneInfo(settings.timezone)
    now = (await env.get_current_time()).astimezone(tz)
    monday = (now + timedelta(days=14 - now.weekday())).date()
    start = datetime(monday.year, monday.month, monday.day, 14, tzinfo=tz)
    await env.sleep(start - await env.get_current_time())
    tickets = [_ticket(n, run) for n in range(concurrency + 1)]  # +1: the warm-up customer
    for t in tickets:
        await env.client.start_workflow(
            "RefreshTicket",
            t,
            id=workflow_id(t.ticket_id),
            task_queue=settings.task_queue,
            search_attributes=initial_search_attributes(t),
        )
    ids = [t.ticket_id for t in tickets]
    await _until_all(env.client, ids, "pending_invite")
    await env.sleep(start + timedelta(hours=21) - await env.get_current_time())
    await _until_all(env.client, ids, "pending_wizard")

    secret = settings.secret_key.get_secret_value()
    tokens = [sign(secret, t.ticket_id, str(t.user.email)) for t in tickets]
    base = f"http://127.0.0.1:{web_port}"
    async with contextlib.AsyncExitStack() as browsers:  # one client per customer
        clients = [
            await browsers.enter_async_context(httpx.AsyncClient(base_url=base, timeout=120))
            for _ in tokens
        ]
        await _customer(clients[-1], tokens[-1])  # warm-up: templates, connection pools
        began = time.perf_counter()
        results = await asyncio.gather(
            *(_customer(c, t) for c, t in zip(clients[:-1], tokens[:-1], strict=True))
        )
        return results, time.perf_counter() - began


if __name__ == "__main__":
    import json

    print(json.dumps(asyncio.run(bench_wizard_submit()), indent=2))
