"""Probes and metrics of the web app: `/healthz` (alive), `/readyz` (can serve), `/metrics`.

`/readyz` answers 503 naming what is missing (Temporal, the database, its schema) so a load
balancer stops sending requests to a replica that could only fail them. `/metrics` is for
Prometheus inside the deployment; the reverse proxy does not route it (README).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from operations import health
from operations.app_metrics import AppDatabaseCollector
from web.deps import WebApp

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    web: WebApp = request.app.state.web
    try:
        client = await asyncio.wait_for(web.client(), health.CHECK_TIMEOUT_S)
    except Exception:  # not connected: the check below says so
        client = None
    engine = web.reads.kw["bind"]  # a probe must not take SQLite's write lock
    checks = await health.readiness(client, engine)
    ready = all(c.ok for c in checks)
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": [c.to_json() for c in checks]},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        web: WebApp = request.app.state.web
        registry = CollectorRegistry(auto_describe=False)
        registry.register(AppDatabaseCollector(web.reads.kw["bind"]))
        request.app.state.metrics_registry = registry
    body = await asyncio.to_thread(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
