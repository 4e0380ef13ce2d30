"""The production topology, run: three worker processes, PostgreSQL, the Temporal dev server.

A 200-ticket batch goes to `pending_invite` against the TDX stand-in at TDX's real rate
windows scaled ×10 (60 calls, 30 ticket creations per 6 s instead of 60 s): the work is
spread over the three workers, the task-queue rate limits and the window count they share
in the database keep all of them together under TDX's limits (not a single 429), and one
worker SIGKILLed mid-run loses nothing and repeats nothing. Each worker serves its health
port and Prometheus endpoint and logs JSON lines; the test reads all three.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from domain.refresh import BatchProgress, Status, TicketState, workflow_id
from domain.settings import Settings
from operations.batches import batch_input
from starter.dev_server import start_worker_process
from store.db import make_engine, migrate, session_factory
from store.reference import load_reference_file
from tests.ops.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
N = 200
WORKERS = 3
SCALE = 10  # TDX's 60 s windows become 6 s


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from tests.pg_server import PostgresUnavailable, create_database, start_postgres

    try:
        server_url, stop = start_postgres()
    except PostgresUnavailable as e:
        pytest.skip(str(e))
    url = create_database(server_url)
    migrate(url)
    with session_factory(make_engine(url)).begin() as db:
        load_reference_file(ROOT / "tests" / "reference.yaml", db)
    yield url
    stop()


@dataclass
class WorkerProcess:
    name: str
    proc: subprocess.Popen
    metrics: str
    health: str
    log: Path

    async def get(self, url: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=5) as http:
            return await http.get(url)

    async def scrape(self) -> Counter:
        text = (await self.get(f"{self.metrics}/metrics")).text
        found: Counter = Counter()
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                key = s.labels.get("method") or s.labels.get("activity_type") or ""
                found[(s.name, key)] += s.value
                found[s.name] += s.value
        return found


def start_worker(name: str, settings: Settings, address: str, tmp: Path) -> WorkerProcess:
    metrics, health = free_port(), free_port()
    log = tmp / f"{name}.log"
    proc = start_worker_process(
        settings,
        address,
        log,
        # TDX's own limits per window (defaults: 60 calls, 30 creations), window ×10 shorter.
        DESKFLOW_TDX_RATE_WINDOW_SECONDS=str(60 / SCALE),
        DESKFLOW_TDX_CREATE_SETTLE_SECONDS=str(300 / SCALE),
        # No call starts in a window's last quarter second (see starter/bench_tdx.py).
        DESKFLOW_TDX_RATE_GUARD_SECONDS="0.25",
        DESKFLOW_METRICS_BIND=f"127.0.0.1:{metrics}",
        DESKFLOW_HEALTH_BIND=f"127.0.0.1:{health}",
        DESKFLOW_LOG_FORMAT="json",
    )
    return WorkerProcess(
        name, proc, f"http://127.0.0.1:{metrics}", f"http://127.0.0.1:{health}", log
    )


def busiest_windows(calls, seconds: float) -> dict[str, int]:
    """The most calls of each TDX method within any `seconds` (TDX's limit is per window)."""
    by_method: dict[str, list[float]] = {}
    for c in calls:
        by_method.setdefault(f"{c.method} {c.route}", []).append(c.at.timestamp())
    busiest = {}
    for method, times in by_method.items():
        times.sort()
        start, most = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= seconds:
                start += 1
            most = max(most, end - start + 1)
        busiest[method] = most
    return busiest


async def wait_ready(w: WorkerProcess) -> None:
    for _ in range(600):
        try:
            r = await w.get(f"{w.health}/readyz")
            if r.status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert w.proc.poll() is None, w.log.read_text()[-3000:]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{w.name} never ready: {w.log.read_text()[-3000:]}")


async def test_three_workers_on_postgres_200_tickets_no_429_one_killed(
    dev_env, settings, sim, pg_url, tmp_path
):
    sim.tdx.reset()
    sim.slack.reset()
    sim.mail.clear()
    sim.tdx.configure_limits(window_seconds=60 / SCALE, limit=60, create_limit=30)
    local = settings.model_copy(update={"task_queue": "scale-out", "database_url": pg_url})
    sim.tdx.add_person("scale", UID="uid-scale", FullName="Scale Out", PrimaryEmail="s@example.edu")
    serials = [f"SCALE{i:04d}" for i in range(N)]
    for s in serials:
        sim.tdx.add_asset(s, OwningCustomerID="uid-scale", SupportingDepartmentName="nit-central")
    address = dev_env.client.service_client.config.target_host
    client = dev_env.client

    workers = [start_worker(f"worker{i + 1}", local, address, tmp_path) for i in range(WORKERS)]
    try:
        for w in workers:
            await wait_ready(w)
        csv_text = "serial\n" + "\n".join(serials) + "\n"
        inp = batch_input(local, "lsa-onprem", "scale", csv_text, "scale.csv")
        await client.start_workflow(
            "RefreshBatch", inp, id="batch-scale", task_queue=local.task_queue
        )

        # Kill one worker once a third of the TDX tickets exist, with its share of work done.
        victim = workers[1]
        for _ in range(3000):
            if len(sim.tdx.tickets) >= N // 3:
                break
            await asyncio.sleep(0.05)
        victim_metrics = await victim.scrape()
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        killed_at = len(sim.tdx.tickets)
        assert killed_at < N, "the batch was done before the kill; nothing was tested"
        survivors = [w for w in workers if w is not victim]

        # Every ticket finishes its setup (TDX ticket and tasks) and waits for its invite. The
        # killed worker's activities come back after their 30 s start-to-close timeout.
        # Watched on the stand-in, not by querying 200 workflows over and over: the stand-in
        # shares this process, and a busy test loop would bunch the calls it timestamps.
        for _ in range(600):
            if len(sim.tdx.tasks) >= 3 * N:
                break
            for w in survivors:
                assert w.proc.poll() is None, w.log.read_text()[-3000:]
            await asyncio.sleep(0.5)
        deadline = asyncio.get_running_loop().time() + 60
        for s in serials:
            handle = client.get_workflow_handle(workflow_id(f"lsa-onprem.{s}"))
            while True:
                st = await handle.query("state", result_type=TicketState)
                if st.setup_done or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.5)
            assert st.status == Status.pending_invite and st.setup_done, st
        found = [
            w.id
            async for w in client.list_workflows(
                'RefreshStatus = "pending_invite" AND BatchId = "scale"'
            )
        ]
        assert len(found) == N, f"{len(found)} of {N} tickets in pending_invite"
        p = await client.get_workflow_handle("batch-scale").query(
            "progress", result_type=BatchProgress
        )
        assert p.done and len(p.started) == N and not p.refused
        metrics = {w.name: await w.scrape() for w in survivors}
        metrics[victim.name] = victim_metrics
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in workers:
            w.proc.wait(timeout=30)
        sim.tdx.configure_limits(window_seconds=60, limit=100_000, create_limit=100_000)

    # Nothing lost, nothing twice: one TDX ticket and three tasks per ticket.
    refresh_tickets = [t for t in sim.tdx.tickets.values() if "[deskflow:" in t["Description"]]
    per_ticket = Counter(t["Description"].split("[deskflow:")[1] for t in refresh_tickets)
    assert len(per_ticket) == N and set(per_ticket.values()) == {1}
    tasks = Counter((t["TicketID"], t["Title"]) for t in sim.tdx.tasks.values())
    assert len(tasks) == 3 * N and set(tasks.values()) == {1}

    # TDX's limits held across all the workers together: not one 429.
    statuses = Counter(c.status for c in sim.tdx.calls)
    print("busiest 6 s per method:", busiest_windows(sim.tdx.calls, 60 / SCALE))
    if statuses[429]:  # shown only when the test fails: which method, and how it was paced
        by_route = Counter(c.route for c in sim.tdx.calls if c.status == 429)
        for route in by_route:
            times = [c.at for c in sim.tdx.calls if c.route == route]
            starts = [t for t in times if (t - times[0]).total_seconds() < 60]
            print(route, by_route[route], "429s;", len(times), "calls; first 6 s windows:")
            per_s = Counter(int((t - times[0]).total_seconds()) for t in starts)
            print("  per second:", [per_s[i] for i in range(30)])
    assert statuses[429] == 0, statuses

    # Every worker took a share of the work, and said so on its metrics endpoint.
    for name, m in metrics.items():
        done = m[("temporal_activity_execution_latency_count", "tdx_create_task")]
        calls = m["deskflow_tdx_calls_total"]
        print(f"{name}: {done:.0f} task creations, {calls:.0f} TDX calls")
        assert done > 0 and calls > 0, name
    assert sum(m[("deskflow_tdx_rate_limited_total", "")] for m in metrics.values()) == 0

    # Logs: JSON lines only, naming ticket and activity; no secret, no customer link.
    secrets = [local.secret_key, local.tdx_web_services_key, local.slack_token]
    for w in workers:
        text = w.log.read_text()
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert any(e.get("ticket_id") and e.get("activity") for e in events), w.name
        for secret in secrets:
            assert secret.get_secret_value() not in text
        assert "/c/" not in text.replace("/c/[redacted]", "")
