"""`POST /hooks/{itsm}`: the ITSM's webhook, taken in once and handed to the ticket's workflows.

Halo's webhook and ServiceNow's REST message land here. Each is authenticated the way the
product was configured to send it (Basic, Bearer or an API-key header: `DESKFLOW_{ITSM}_
WEBHOOK_AUTH` and `_SECRET`), parsed into the port's event, deduplicated by delivery (the
hash of the body: a product's retry sends the same bytes), and delivered by signal-with-start
to every workflow of the ticket. A bad delivery gets a 4xx naming what is wrong and changes
nothing; that includes a well-formed delivery for a ticket the ITSM does not have, which the
hook asks the ITSM about first (`LookupItsmTicket`; a "yes" is kept a minute, so a burst of
deliveries for one ticket costs one look-up). If the ITSM or Temporal cannot answer, the
claim is undone and the answer is 503 with `Retry-After`: both products retry a delivery
that got a 5xx, so nothing is lost and nothing is accepted unchecked.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from temporalio.service import RPCError

from domain import halo_json, servicenow_json
from domain.itsm import ITSMS, ItsmEvent
from operations import itsm_delivery
from operations.itsm_lookup import ItsmUnavailable
from store import service_desk as desk_store
from web.deps import WebApp, web_app

router = APIRouter(tags=["webhooks"])
APP = Depends(web_app)
MAX_BODY = 1_000_000
RETRY_AFTER_SECONDS = 30
PARSERS = {"halo": halo_json.event_from_webhook, "servicenow": servicenow_json.event_from_webhook}


def refuse(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)


def authorised(request: Request, kind: str, secret: str) -> bool:
    """Whether the request carries the configured credentials (compared in constant time)."""
    header = request.headers.get("Authorization", "")
    if kind == "basic":
        expected = "Basic " + base64.b64encode(secret.encode()).decode()
        return hmac.compare_digest(header.encode(), expected.encode())
    if kind == "bearer":
        return hmac.compare_digest(header.encode(), f"Bearer {secret}".encode())
    name, _, value = secret.partition(":")
    return hmac.compare_digest(request.headers.get(name, "").encode(), value.encode())


def _first_error(exc: ValidationError) -> tuple[str, str]:
    err = exc.errors()[0]
    return ".".join(str(p) for p in err["loc"]) or "(body)", err["msg"]


async def deliver(app: WebApp, event: ItsmEvent) -> list[str]:
    return await itsm_delivery.deliver(await app.client(), event, app.settings.task_queue)


@router.post("/hooks/{itsm}", status_code=202)
async def take_delivery(itsm: str, request: Request, app: WebApp = APP):
    if itsm not in ITSMS:
        return refuse(404, f"unknown ITSM {itsm!r}: use /hooks/halo or /hooks/servicenow")
    s = app.settings
    kind = getattr(s, f"{itsm}_webhook_auth")
    secret = getattr(s, f"{itsm}_webhook_secret").get_secret_value()
    if not authorised(request, kind, secret):
        return refuse(401, f"missing or wrong {kind} credentials for the {itsm} webhook")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return refuse(413, f"body over {MAX_BODY} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return refuse(400, f"malformed JSON: {exc}")
    delivery_id = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    try:
        event = PARSERS[itsm](body, delivery_id)
    except ValidationError as exc:
        field, msg = _first_error(exc)
        return refuse(422, f"{field}: {msg}", f"ticket.{field}")
    except (ValueError, TypeError) as exc:
        return refuse(422, str(exc))
    tid = event.ticket.id
    try:
        known = await app.ticket_lookups.exists(await app.client(), s.task_queue, itsm, tid)
    except (ItsmUnavailable, RPCError, RuntimeError, OSError) as exc:
        return refuse(503, f"cannot check ticket {tid} with {itsm} now ({exc}); retry")
    if not known.found:
        return refuse(422, f"{itsm} has no ticket {tid} ({known.reason})", "ticket.id")

    def claim() -> bool:
        with app.writes.begin() as db:
            return desk_store.claim_delivery(db, itsm, delivery_id, event.ticket.id)

    if not await asyncio.to_thread(claim):
        return JSONResponse({"status": "duplicate", "ticket": event.ticket.id}, status_code=200)
    try:
        workflows = await deliver(app, event)
    except (RPCError, RuntimeError, OSError) as exc:

        def forget() -> None:
            with app.writes.begin() as db:
                desk_store.forget_delivery(db, itsm, delivery_id)

        await asyncio.to_thread(forget)
        return refuse(503, f"deskflow cannot take deliveries now ({type(exc).__name__}); retry")
    return {"status": "accepted", "ticket": event.ticket.id, "workflows": workflows}
