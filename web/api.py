"""The JSON API under /api: every action of the web app, for operators and other systems.

Authentication: `POST /api/session` with a staff username and password returns a bearer
token (also set as the session cookie); send it as `Authorization: Bearer <token>`. With the
cookie instead, unsafe requests must carry `X-CSRF-Token`. Customers use the token of their
emailed link in the path (`/api/c/{token}/...`). A refused request answers 4xx with
`{"detail", "field", "errors": [{"field", "message"}]}`.

The routes live in `web/routes/`, one module per resource; this router gathers them, flat,
so that `router.routes` lists every API route (FastAPI's `include_router` would nest them).
"""

from __future__ import annotations

from fastapi import APIRouter

from web.routes import (
    approvals,
    batches,
    bulk,
    configs,
    customers,
    order_groups,
    session,
    slots,
    teams,
    tickets,
)

router = APIRouter()
for resource in (
    session,
    customers,
    tickets,
    approvals,
    batches,
    order_groups,
    bulk,
    configs,
    teams,
    slots,
):
    router.routes.extend(resource.router.routes)
