"""`/healthz` and `/readyz` of the web app and of a worker's health port, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from uuid import uuid4

import httpx

from operations import worker_health
from tests.ops.conftest import free_port
from tests.web.helpers import BASE
from web.app import create_app
from web.config import WebSettings
from worker import build_workers


def _app_client(settings, client) -> httpx.AsyncClient:
    app = create_app(settings, client, web_settings=WebSettings(_env_file=None, dev=True))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


def _failing(body: dict) -> dict[str, str]:
    return {c["name"]: c["detail"] for c in body["checks"] if not c["ok"]}


async def test_web_app_ready_and_not_ready(env, settings, behind_db):
    async with _app_client(settings, env.client) as web:
        assert (await web.get("/healthz")).json() == {"status": "ok"}
        r = await web.get("/readyz")
        assert r.status_code == 200, r.text
        assert [c["name"] for c in r.json()["checks"]] == ["temporal", "database", "migrations"]

    behind = settings.model_copy(update={"database_url": behind_db})
    async with _app_client(behind, env.client) as web:
        assert (await web.get("/healthz")).status_code == 200  # alive, but not ready
        r = await web.get("/readyz")
        assert r.status_code == 503
        assert "run `deskflow migrate`" in _failing(r.json())["migrations"]


async def test_web_app_not_ready_without_temporal(settings):
    gone = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with _app_client(gone, None) as web:
        r = await web.get("/readyz")
    assert r.status_code == 503
    assert set(_failing(r.json())) == {"temporal"}


async def test_worker_health_port(env, settings, behind_db):
    port = free_port()
    local = settings.model_copy(
        update={"task_queue": f"health-{uuid4().hex[:8]}", "health_bind": f"127.0.0.1:{port}"}
    )
    url = f"http://127.0.0.1:{port}"
    async with contextlib.AsyncExitStack() as stack:
        workers = build_workers(env.client, local)
        for w in workers:
            await stack.enter_async_context(w)
        async with worker_health.serve(local, env.client, workers), httpx.AsyncClient() as http:
            # Each worker's poll loop starts a moment after it is entered (later on a loaded
            # machine): alive once all of them poll, within seconds.
            deadline = time.monotonic() + 30
            while (r := await http.get(f"{url}/healthz")).status_code != 200:
                assert time.monotonic() < deadline, r.text
                await asyncio.sleep(0.1)
            assert r.json() == {"status": "ok"}
            r = await http.get(f"{url}/readyz")
            assert r.status_code == 200 and r.json()["status"] == "ready", r.text

    behind = local.model_copy(update={"database_url": behind_db})
    async with worker_health.serve(behind, env.client, workers), httpx.AsyncClient() as http:
        # The workers above have stopped polling: not alive; and the schema is behind.
        r = await http.get(f"{url}/healthz")
        assert r.status_code == 503 and r.json()["status"] == "not polling"
        r = await http.get(f"{url}/readyz")
        assert r.status_code == 503 and "migrations" in _failing(r.json())
