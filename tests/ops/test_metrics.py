"""After a run, a worker's Prometheus endpoint and the web app's `/metrics` count it right.

The worker is the real one, connected the way `worker.py` connects (`DESKFLOW_METRICS_BIND`
gives its Temporal Runtime a Prometheus port); three tickets go to their invite against the
stand-ins, one TDX call is refused with 429 on the way.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from uuid import uuid4

import httpx
from prometheus_client.parser import text_string_to_metric_families

from domain.refresh import Status
from operations.temporal_client import connect
from tests.ops.conftest import free_port
from tests.web.helpers import BASE, invited
from tests.workflows.helpers import ticket_input
from web.app import create_app
from web.config import WebSettings
from worker import build_workers

N = 3


class _Env:
    """The test environment, starting workflows through the worker's own client."""

    def __init__(self, env, client) -> None:
        self._env = env
        self.client = client

    def __getattr__(self, name: str):
        return getattr(self._env, name)


def samples(text: str) -> Counter:
    """Sample values summed over every label but the ones named in the key."""
    found: Counter = Counter()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[s.name] += s.value
            for k, v in s.labels.items():
                found[(s.name, k, v)] += s.value
            if "method" in s.labels and "status" in s.labels:
                found[(s.name, s.labels["method"], s.labels["status"])] += s.value
    return found


async def scrape(url: str) -> Counter:
    async with httpx.AsyncClient() as http:
        r = await http.get(url)
    assert r.status_code == 200
    return samples(r.text)


async def test_worker_and_web_metrics_count_a_run(env, settings, sim):
    sim.tdx.reset()
    sim.mail.clear()
    port = free_port()
    local = settings.model_copy(
        update={
            "task_queue": f"metrics-{uuid4().hex[:8]}",
            "temporal_address": env.client.service_client.config.target_host,
            "metrics_bind": f"127.0.0.1:{port}",
        }
    )
    client = await connect(local)
    app = create_app(local, client, web_settings=WebSettings(_env_file=None, dev=True))
    web = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    before = samples((await web.get("/metrics")).text)
    sim.tdx.fail("POST", r"/tickets$", 429, reset_after=0.1)

    async with contextlib.AsyncExitStack() as stack:
        for w in build_workers(client, local):
            await stack.enter_async_context(w)
        inputs = [ticket_input("on_prem", "lsa-onprem") for _ in range(N)]
        await invited(_Env(env, client), local, *inputs)
        worker = await scrape(f"http://127.0.0.1:{port}/metrics")
    after = samples((await web.get("/metrics")).text)
    await web.aclose()

    # deskflow's series, counted by the activities through the SDK's meter.
    assert worker[("deskflow_emails_sent_total", "template", "invite")] == N
    assert len(sim.mail.find(template="invite")) == N
    create = ("deskflow_tdx_calls_total", "POST {id}/tickets", "200")
    assert worker[create] == N
    assert worker[("deskflow_tdx_calls_total", "POST {id}/tickets", "429")] == 1
    assert worker[("deskflow_tdx_rate_limited_total", "method", "POST {id}/tickets")] == 1
    assert worker[("deskflow_tdx_calls_total", "POST {id}/tickets/{id}/tasks", "200")] == 3 * N
    # The SDK's own runtime metrics on the same endpoint: the create ran N + 1 times (the 429
    # is a benign error, so not among the SDK's failures).
    executions = "temporal_activity_execution_latency_count"
    assert worker[(executions, "activity_type", "tdx_create_ticket")] == N + 1
    assert worker["temporal_workflow_task_schedule_to_start_latency_count"] > 0
    assert worker["temporal_worker_task_slots_available"] > 0
    assert worker["temporal_request_total"] > 0

    # The web app's gauge, from the app database: N more tickets waiting on their wizard.
    gauge = ("deskflow_tickets", "status", Status.pending_wizard.value)
    assert after[gauge] - before[gauge] == N
