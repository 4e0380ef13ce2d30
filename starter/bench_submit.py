"""Issue 15's figures: a wizard submit against a bare update, and what a ticket costs to keep.

`await submit_figures(client, settings)` runs on the dev server `client` talks to, with
processes of its own, laid out as deployed: the baseline worker (`starter.bench_baseline`:
one update handler, deskflow's data converter and codec), deskflow's worker (`worker.py`)
and web app (uvicorn), each its own process; the stand-ins and the customers' browsers (one
HTTP connection each) in this one; a fresh SQLite app database with the demo reference data.

The browsers' Confirm writes and reads HTTP/1.1 itself on a kept-alive connection
(`Browser`), not with httpx or h11: the 100 browsers run on the server's own cores here, and
httpx spends 1-2.5 ms of Python on each request, more than the web app's whole Confirm. A
customer's browser spends that on the customer's machine. The review page before it, not
timed, is read with httpx.

- `submit_vs_update_{p50,p95}_c{1,100}`: the HTTP Confirm of the wizard (POST of the review
  page: the update and the answer) over the bare update, one customer at a time (100 of
  each, alternating, each request sent from a quiet machine: the Confirm's row written and
  every worker idle; the first request after a pause pays for waking the processes up, on
  this machine 20-30 ms, so each kind is sent after one) and 100 at once (eight bursts of
  each kind, alternating, pooled: one burst's latencies move together with what the
  machine does in that second; each burst starts with the three processes idle and at
  least 20 s after the one before, whose leftovers the server is then done with, and
  which kind goes first is swapped every time: the first burst after a quiet spell was
  about a tenth slower than the second, whichever kind it was; each burst's p50 goes to
  stderr). Each customer has an on-prem ticket waiting for the wizard; the review page was
  opened before the clock starts, as a customer would have.
- `worker_cpu_ms_per_submit` and `baseline_worker_cpu_ms_per_update`: CPU time of each
  worker process per submit in the 100-at-once round, until the worker is idle again
  (for deskflow that includes what the submit sets off: the next status, the projection).
- `history_bytes_full_onprem_lifecycle`: one on-prem ticket driven from start to complete
  on the time-skipping server (`starter.bench`'s driver), its history as JSON.
- `batch_{n}_workflow_task_timeouts`: a batch of n serials (TDX's limits lifted, so only
  the worker sets the pace) on one worker; workflow tasks that timed out, over every
  ticket's history.
- `worker_rss_mib_per_cached_ticket`: the worker's resident memory grown over that batch,
  per ticket it started (the worker's cache holds them all).
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
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from sqlalchemy import create_engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from domain.refresh import RefreshTicketInput, TicketState, workflow_id
from domain.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "lsa-fy27-onprem"
TEAM = "nit-central"
LOCATION = "Angell Hall, 2001"
ROUNDS_C1 = 100  # submits one at a time: enough for a p95 that is not one outlier
CONCURRENCY = 100  # submits at once
BURSTS_C100 = 8  # bursts of each kind, alternating: one burst is one draw of the machine
# Before a burst, time for the server to be done with the one before: a burst of Confirms
# leaves it workflow-task and activity timeout timers that come due 9-17 s later, which it
# reads and drops; a burst landing on them pays for them, whichever kind it is.
SETTLE_S = 20.0
BATCH = 2000
ORIGINAL_HISTORY_BYTES = 136_782  # the lifecycle's history as JSON before issue 15
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


# ----- measuring processes --------------------------------------------------------------------


def cpu_ms(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_MS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def idle(pid: int, quiet_ms: float = 2 * TICK_MS, window: float = 0.5) -> None:
    """Until the process spends (almost) no CPU for `window` seconds."""
    before = cpu_ms(pid)
    while True:
        await asyncio.sleep(window)
        now = cpu_ms(pid)
        if now - before <= quiet_ms:
            return
        before = now


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def processes(*commands: tuple[list[str], dict[str, str], Path]) -> Iterator[list[int]]:
    """Start each (argv, env, log); yield their pids; stop them (by pid) on exit."""
    procs = []
    try:
        for argv, env, log in commands:
            out = log.open("ab")
            procs.append(subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=out))
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


# ----- the tickets ----------------------------------------------------------------------------


def waiting_for_wizard(n: int, run: str) -> RefreshTicketInput:
    """An on-prem ticket whose invite went out: it sets itself up and waits for the wizard."""
    t = RefreshTicketInput.model_validate(
        {
            "ticket_id": f"sbench-{run}-{n}",
            "config_id": CONFIG,
            "style": "on_prem",
            "user": {"uniqname": f"u{n}", "name": f"User {n}", "email": f"u{n}@example.edu"},
            "existing_system": {
                "serial": f"SB{run}{n:05d}".upper(),
                "platform": "windows",
                "model": "Dell Latitude 5420",
                "location": LOCATION,
            },
            "support_team": TEAM,
        }
    )
    now = datetime.now(UTC)
    resume = TicketState.model_validate(
        t.model_dump(exclude={"resume", "history_limit"})
        | {"status": "pending_wizard", "created_at": now, "invited_at": now}
    )
    return t.model_copy(update={"resume": resume})


def submitted(row: Any) -> bool:
    """A ticket's row once its wizard's submit is projected."""
    return row.status != "pending_wizard" and bool(row.state.get("wizard_submitted"))


async def until_rows(
    sessions, ids: list[str], check: Callable[[Any], bool], timeout=300.0, poll=0.2
):
    """Until every ticket's projected row passes `check`."""
    from store.tables import Ticket

    def done() -> int:
        with sessions() as db:
            rows = [db.get(Ticket, i) for i in ids]
            return sum(1 for r in rows if r is not None and check(r))

    deadline = time.monotonic() + timeout
    while (n := await asyncio.to_thread(done)) < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {n} of {len(ids)} bench tickets got there")
        await asyncio.sleep(poll)


def submit_aims_met(figures: dict[str, float]) -> bool:
    """Issue 15's aims: each Confirm ratio at most 1.5, the lifecycle's history at least 30 %
    under its size before, no workflow-task timeout in the batch."""
    ratios = [f"submit_vs_update_{q}_{c}" for q in ("p50", "p95") for c in ("c1", "c100")]
    timeouts = [v for k, v in figures.items() if k.endswith("_workflow_task_timeouts")]
    return (
        all(figures[k] <= 1.5 for k in ratios)
        and figures["history_bytes_full_onprem_lifecycle"] <= 0.7 * ORIGINAL_HISTORY_BYTES
        and bool(timeouts)
        and not any(timeouts)
    )


# ----- the two kinds of submit ------------------------------------------------------------------


class Browser:
    """One browser's kept-alive HTTP/1.1 connection to the web app, for the timed Confirm.

    The request goes out as its bytes and the answer is read by its status line, headers and
    content-length, nothing more: a customer's browser does this in native code on the
    customer's machine, but the bench's 100 browsers share the server's two cores, where
    even h11 spent about 50 µs of Python on each request (measured in-process), a twentieth
    of the web app's whole Confirm."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_form(self, path: str, body: bytes, cookie: str) -> tuple[int, str]:
        """POST `body` as a form; the answer's status and `location`."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{self.port}\r\n"
            "content-type: application/x-www-form-urlencoded\r\n"
            f"content-length: {len(body)}\r\ncookie: {cookie}\r\n\r\n".encode()
            + body
        )
        status_line, *lines = (await self.reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        headers = {k.strip().lower(): v for k, _, v in (line.partition(b":") for line in lines)}
        if b"content-length" not in headers:  # uvicorn sizes every answer the Confirm gets
            raise RuntimeError(f"an answer without content-length: {status_line!r}")
        await self.reader.readexactly(int(headers[b"content-length"]))
        return int(status_line.split()[1]), headers.get(b"location", b"").decode().strip()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Customer:
    """One browser: opens the review page (not timed), then Confirm (timed)."""

    def __init__(self, http: httpx.AsyncClient, browser: Browser, token: str) -> None:
        self.http, self.browser, self.token = http, browser, token
        self.csrf = self.cookie = ""

    async def open_review(self) -> None:
        page = await self.http.get(f"/c/{self.token}/wizard/review")
        page.raise_for_status()
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if found is None:
            raise RuntimeError("no CSRF token on the review page")
        self.csrf = found.group(1)
        self.cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())

    async def confirm(self) -> float:
        body = f"csrf_token={self.csrf}".encode()
        began = time.perf_counter()
        status, location = await self.browser.post_form(
            f"/c/{self.token}/wizard/review", body, self.cookie
        )
        took = time.perf_counter() - began
        if status != 303 or "done=wizard" not in location:
            raise RuntimeError(f"wizard confirm answered {status} ({location or 'no location'})")
        return took


async def at_once(calls: list[Callable[[], Awaitable[float]]]) -> list[float]:
    return list(await asyncio.gather(*(c() for c in calls)))


def bare_update(client: Client, wf_id: str) -> Callable[[], Awaitable[float]]:
    async def call() -> float:
        began = time.perf_counter()
        await client.get_workflow_handle(wf_id).execute_update(
            "submit", {"location": LOCATION, "software": []}
        )
        return time.perf_counter() - began

    return call


# ----- the figures --------------------------------------------------------------------------


async def submit_figures(
    client: Client,
    settings: Settings,
    *,
    rounds_c1: int = ROUNDS_C1,
    concurrency: int = CONCURRENCY,
    bursts: int = BURSTS_C100,
    batch: int = BATCH,
    settle: float = SETTLE_S,
    workdir: Path | None = None,
) -> dict[str, float]:
    from sim.app import SimServer
    from starter.dev_server import worker_environment
    from store.db import make_engine, migrate, session_factory
    from store.reference import load_reference_file

    workdir = workdir or Path(tempfile.mkdtemp(prefix="deskflow-sbench-"))
    run = uuid4().hex[:6]
    async with SimServer(
        tdx_limit=10**6,
        tdx_create_limit=10**6,
        slack_per_second=10**4,
        tdx_beid=settings.tdx_beid,
        tdx_web_services_key=settings.tdx_web_services_key.get_secret_value(),
        slack_token=settings.slack_token.get_secret_value(),
    ) as sim:
        local = settings.model_copy(
            update={
                "database_url": f"sqlite:///{workdir / 'submit.db'}",
                "task_queue": f"sbench-{run}",
                "tdx_base_url": sim.tdx_base_url,
                "slack_base_url": sim.slack_base_url,
                "smtp_host": sim.smtp_host,
                "smtp_port": sim.smtp_port,
            }
        )
        migrate(local.database_url)
        with session_factory(make_engine(local.database_url)).begin() as db:
            load_reference_file(ROOT / "demo" / "reference.yaml", db)
        # Reads only: plain deferred transactions, which WAL never makes wait for a writer
        # (`make_engine` opens every transaction for writing).
        sessions = session_factory(create_engine(local.database_url))
        address = client.service_client.config.target_host
        lifted = {
            "DESKFLOW_TDX_MAX_CALLS_PER_MINUTE": "1000000",
            "DESKFLOW_TDX_MAX_CREATES_PER_MINUTE": "1000000",
            # Every ticket of the bench stays cached: the memory figure counts them all.
            "DESKFLOW_WORKER_CACHE_SIZE": str(rounds_c1 + bursts * concurrency + batch + 100),
        }
        env = worker_environment(local, address, **lifted, PYTHONPATH=str(ROOT))
        web_port = free_port()
        web_env = env | {"DESKFLOW_WEB_COOKIE_SECURE": "false"}  # http on loopback
        base_env = env | {"DESKFLOW_TASK_QUEUE": f"sbench-base-{run}"}
        py = sys.executable
        web = [py, "-m", "uvicorn", "web.app:create_app", "--factory", "--host", "127.0.0.1"]
        web += ["--port", str(web_port), "--log-level", "warning", "--no-access-log"]
        # Each browser's connection waits idle between its review page and its Confirm.
        web += ["--timeout-keep-alive", "600"]
        with processes(
            ([py, str(ROOT / "worker.py")], env, workdir / "worker.log"),
            ([py, "-m", "starter.bench_baseline"], base_env, workdir / "baseline.log"),
            (web, web_env, workdir / "web.log"),
        ) as (worker_pid, base_pid, web_pid):
            from operations.temporal_client import connect
            from starter.dev_server import wait_for_port

            await asyncio.to_thread(wait_for_port, "127.0.0.1", web_port, 60)
            # The bare updates go out as the web app's do: through a client connected the way
            # every deskflow process connects (the test environment's own client differs).
            deskflow_client = await connect(local.model_copy(update={"temporal_address": address}))
            figures = await _latency_and_cpu(
                deskflow_client, local, sessions, run, rounds_c1, concurrency, bursts, settle,
                web_port, worker_pid, base_pid, web_pid,
            )  # fmt: skip
            figures |= await _batch(client, local, sim, sessions, run, batch, worker_pid)
    figures |= await lifecycle_history(settings)
    return figures


async def _latency_and_cpu(
    client, settings, sessions, run, rounds_c1, concurrency, bursts, settle, web_port, worker,
    base, web,
) -> dict[str, float]:  # fmt: skip
    from domain.customer_links import sign

    n = rounds_c1 + bursts * concurrency + 1  # +1: the warm-up customer
    tickets = [waiting_for_wizard(i, run) for i in range(n)]
    for t in tickets:
        await client.start_workflow(
            "RefreshTicket", t, id=workflow_id(t.ticket_id), task_queue=settings.task_queue
        )
    baselines = [f"sbench-base-{run}-{i}" for i in range(n)]
    for wf in baselines:
        await client.start_workflow("BenchBaseline", id=wf, task_queue=f"sbench-base-{run}")
    ids = [t.ticket_id for t in tickets]
    await until_rows(sessions, ids, lambda r: r.tdx_ticket_id is not None)

    secret = settings.secret_key.get_secret_value()
    base_url = f"http://127.0.0.1:{web_port}"
    async with contextlib.AsyncExitStack() as stack:
        customers = []
        for t in tickets:
            http = httpx.AsyncClient(base_url=base_url, timeout=120)
            await stack.enter_async_context(http)
            browser = Browser(web_port)
            stack.push_async_callback(browser.close)
            customers.append(Customer(http, browser, sign(secret, t.ticket_id, str(t.user.email))))
        await asyncio.gather(*(c.open_review() for c in customers))
        await customers[-1].confirm()  # warm-up: connections, templates, caches
        await bare_update(client, baselines[-1])()
        await idle(worker)

        one = slice(0, rounds_c1)
        # One at a time, alternating, so both kinds meet the same load on the machine; each
        # Confirm's follow-up (its row and the step after it) is done before the next pair, so
        # no customer's Confirm waits behind the one before. Each request is sent after a
        # quiet pause: sent right after the other kind, it would find the processes awake
        # (measured: whichever kind went second was 20-30 ms faster, one at a time).
        base_c1, submit_c1 = [], []
        for wf, customer, ticket_id in zip(baselines[one], customers[one], ids[one], strict=True):
            base_c1.append(await bare_update(client, wf)())
            await idle(base, window=0.1)
            submit_c1.append(await customer.confirm())
            await until_rows(sessions, [ticket_id], submitted, poll=0.05)
            await idle(worker, window=0.1)

        # 100 at once: bursts of bare updates and of Confirms, alternating, each from a quiet
        # machine (all three processes idle), which kind goes first swapped every time (see
        # the module's docstring); the latencies of a kind's bursts are pooled.
        base_c100: list[float] = []
        submit_c100: list[float] = []
        cpu = {"base": 0.0, "worker": 0.0, "web": 0.0}

        last_burst = time.monotonic()

        async def quiet() -> None:
            await asyncio.sleep(max(0.0, last_burst + settle - time.monotonic()))
            for pid in (worker, base, web):
                await idle(pid)

        def done(kind: str, latencies: list[float]) -> None:
            nonlocal last_burst
            last_burst = time.monotonic()
            p50 = statistics.median(latencies) * 1000
            print(f"burst of {len(latencies)} {kind}: p50 {p50:.1f} ms", file=sys.stderr)

        async def bare_burst(many: slice) -> None:
            await quiet()
            before = cpu_ms(base)
            latencies = await at_once([bare_update(client, b) for b in baselines[many]])
            done("bare updates", latencies)
            base_c100.extend(latencies)
            await idle(base)
            cpu["base"] += cpu_ms(base) - before

        async def confirm_burst(many: slice) -> None:
            await quiet()
            before, web_before = cpu_ms(worker), cpu_ms(web)
            latencies = await at_once([c.confirm for c in customers[many]])
            done("Confirms", latencies)
            submit_c100.extend(latencies)
            await until_rows(sessions, ids[many], submitted)
            await idle(worker)
            cpu["worker"] += cpu_ms(worker) - before
            cpu["web"] += cpu_ms(web) - web_before

        for k in range(bursts):
            many = slice(rounds_c1 + k * concurrency, rounds_c1 + (k + 1) * concurrency)
            order = (bare_burst, confirm_burst) if k % 2 == 0 else (confirm_burst, bare_burst)
            for burst in order:
                await burst(many)
        per = 1 / (bursts * concurrency)
        base_cpu, worker_cpu, web_cpu = cpu["base"] * per, cpu["worker"] * per, cpu["web"] * per
    for wf in baselines:
        await client.get_workflow_handle(wf).terminate("bench over")

    def ratio(submits: list[float], updates: list[float], q: float) -> float:
        return round(percentile(submits, q) / percentile(updates, q), 2)

    ms = 1000
    return {
        "submit_vs_update_p50_c1": ratio(submit_c1, base_c1, 0.5),
        "submit_vs_update_p95_c1": ratio(submit_c1, base_c1, 0.95),
        "submit_vs_update_p50_c100": ratio(submit_c100, base_c100, 0.5),
        "submit_vs_update_p95_c100": ratio(submit_c100, base_c100, 0.95),
        "submit_p50_ms_c1": round(statistics.median(submit_c1) * ms, 1),
        "update_p50_ms_c1": round(statistics.median(base_c1) * ms, 1),
        "submit_p50_ms_c100": round(statistics.median(submit_c100) * ms, 1),
        "update_p50_ms_c100": round(statistics.median(base_c100) * ms, 1),
        "worker_cpu_ms_per_submit": round(worker_cpu, 1),
        "baseline_worker_cpu_ms_per_update": round(base_cpu, 1),
        "web_cpu_ms_per_submit": round(web_cpu, 1),
    }


async def _batch(client, settings, sim, sessions, run, n: int, worker: int) -> dict[str, float]:
    """n serials in one batch on one worker: timeouts, pace, memory per cached ticket."""
    from domain.refresh import BATCH_WORKFLOW_TYPE, BatchProgress, batch_workflow_id
    from operations.batches import batch_input

    sim.tdx.add_person("owner", UID="uid-owner", FullName="Lab Owner")
    serials = [f"SBB{run}{i:05d}".upper() for i in range(n)]
    for s in serials:
        sim.tdx.add_asset(s, OwningCustomerID="uid-owner", SupportingDepartmentName=TEAM)
    csv = "serial\n" + "\n".join(serials)
    inp = await asyncio.to_thread(batch_input, settings, CONFIG, f"sbb-{run}", csv, "b.csv")
    await idle(worker)
    rss = rss_mib(worker)
    began = time.monotonic()
    handle = await client.start_workflow(
        BATCH_WORKFLOW_TYPE, inp, id=batch_workflow_id(inp.batch_id), task_queue=settings.task_queue
    )
    done = BatchProgress.model_validate(await handle.result())
    await until_rows(sessions, done.started, lambda r: r.tdx_ticket_id is not None)
    seconds = time.monotonic() - began
    await idle(worker)
    grown = rss_mib(worker) - rss

    gate = asyncio.Semaphore(16)

    async def timeouts(ticket_id: str) -> int:
        async with gate:
            events = client.get_workflow_handle(workflow_id(ticket_id)).fetch_history_events()
            timed_out = EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
            return sum([1 async for e in events if e.event_type == timed_out])

    counts = await asyncio.gather(*(timeouts(t) for t in done.started))
    return {
        f"batch_{n}_workflow_task_timeouts": sum(counts),
        f"batch_{n}_tickets_with_timeouts": sum(1 for c in counts if c),
        f"batch_{n}_tickets_started": len(done.started),
        f"batch_{n}_seconds": round(seconds, 1),
        "worker_rss_mib_per_cached_ticket": round(grown / max(1, len(done.started)), 3),
    }


async def lifecycle_history(settings: Settings) -> dict[str, float]:
    """One on-prem ticket from start to complete (time-skipping); its history's size."""
    from starter.bench import onprem_lifecycle

    events, size = await onprem_lifecycle(settings)
    return {
        "history_bytes_full_onprem_lifecycle": size,
        "history_bytes_vs_before_issue_15": round(size / ORIGINAL_HISTORY_BYTES, 2),
        "history_events_full_onprem_lifecycle": events,
    }


async def main() -> dict[str, float]:
    """The figures on a dev server of their own (`python -m starter.bench_submit`)."""
    from starter.bench_process import bench_settings
    from starter.dev_server import fresh_dev_server

    workdir, settings = bench_settings("deskflow-sbench-")
    async with await fresh_dev_server(settings, workdir) as env:
        return await submit_figures(
            env.client,
            settings,
            rounds_c1=int(os.environ.get("DESKFLOW_BENCH_ROUNDS_C1", ROUNDS_C1)),
            concurrency=int(os.environ.get("DESKFLOW_BENCH_CONCURRENCY", CONCURRENCY)),
            bursts=int(os.environ.get("DESKFLOW_BENCH_BURSTS_C100", BURSTS_C100)),
            batch=int(os.environ.get("DESKFLOW_BENCH_BATCH", BATCH)),
            workdir=workdir,
        )


if __name__ == "__main__":
    from starter.bench_process import run_main

    run_main(main)
