"""A worker's health port: `/healthz` (its pollers are running) and `/readyz` (it can work).

A worker serves no HTTP otherwise, yet a service manager, a container orchestrator or a load
test wants to ask it the same questions as the web app. `/readyz` runs the checks of
`operations.health`; both answer 503 with the reasons when the answer is no.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aiohttp import web
from temporalio.client import Client
from temporalio.worker import Worker

from domain.settings import Settings
from operations import health
from store.db import make_engine


def _split(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


@asynccontextmanager
async def serve(
    settings: Settings, client: Client, workers: Sequence[Worker]
) -> AsyncIterator[None]:
    """Answer on `settings.health_bind` while the block runs (nothing when it is unset)."""
    if not settings.health_bind:
        yield
        return
    engine = make_engine(settings.database_url)

    async def healthz(_: web.Request) -> web.Response:
        stopped = [w.task_queue for w in workers if not w.is_running]
        if stopped:
            return web.json_response({"status": "not polling", "task_queues": stopped}, status=503)
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        checks = await health.readiness(client, engine)
        ready = all(c.ok for c in checks)
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": [c.to_json() for c in checks]},
            status=200 if ready else 503,
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = _split(settings.health_bind)
    await web.TCPSite(runner, host, port).start()
    try:
        yield
    finally:
        await runner.cleanup()
        engine.dispose()
