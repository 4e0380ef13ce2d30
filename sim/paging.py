"""PagerDuty stand-in: the Events API v2 (`POST /v2/enqueue`) and the phones it rings.

It copies what PagerDuty does with events, not what deskflow sends: the routing key must be a
32-character integration key; `event_action` is trigger, acknowledge or resolve; a trigger
needs `payload.summary`, `payload.source` and a `payload.severity` of critical, error, warning
or info; a bad event answers 400 `{"status": "invalid event", "message": "Event object is
invalid", "errors": [...]}`; a good one 202 `{"status": "success", "message": "Event
processed", "dedup_key": ...}`. An alert is (routing key, dedup key): another trigger for an
open alert is logged on it and notifies no one; acknowledge and resolve on an unknown or
resolved alert are accepted and dropped; a trigger after a resolve opens a new alert. Too many
events for one routing key in a minute answer 429 (PagerDuty's throttle).

Each notification rings the person behind the routing key. What their phone does is set per
routing key by a test or the dev console (`/_sim/pagerduty`): `no_answer` (the default),
`voicemail` (the call goes to voicemail), or `answer` (they pick up and tap the page's
"Acknowledge" link, which the stand-in follows with a POST, as their phone would). A ringing
page can also be answered, sent to voicemail or left by hand afterwards.

Alerts, pages and phone settings live in SQLite (`path` a file for `make run`), so they
survive a restart; faults (429, 5xx, slow answers) are injected per path like the ITSM
stand-ins.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict

from sim.itsm_common import DocStore, Faults

PREFIX = "/pagerduty"
CONTROL = "/_sim/pagerduty"
SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")
PhoneMode = Literal["no_answer", "voicemail", "answer"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def _invalid(errors: list[str]) -> JSONResponse:
    return JSONResponse(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status_code=400,
    )


def event_errors(body: Any) -> list[str]:
    """PagerDuty's checks of an Events API v2 body, in its words."""
    if not isinstance(body, dict):
        return ["Event object must be a JSON object"]
    errors = []
    key = body.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = body.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is required for acknowledge and resolve events")
    if action == "trigger":
        payload = body.get("payload")
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or not an object")
        else:
            summary = payload.get("summary")
            if not isinstance(summary, str) or not summary:
                errors.append("'payload.summary' is missing or blank")
            elif len(summary) > 1024:
                errors.append("'payload.summary' is longer than 1024 characters")
            if not isinstance(payload.get("source"), str) or not payload.get("source"):
                errors.append("'payload.source' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' is invalid (critical, error, warning, info)")
    return errors


class PagingSim:
    """The PagerDuty account: alerts and pages in SQLite, phones, faults, the throttle."""

    def __init__(self, path: str = ":memory:", per_minute: int = 120) -> None:
        self.store = DocStore(path)
        self.faults = Faults()
        self.per_minute = per_minute
        self.clock: Callable[[], datetime] = utcnow
        self._recent: dict[str, deque[float]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def reset(self) -> None:
        self.store.clear()
        self.faults.rules.clear()
        self._recent.clear()
        self.clock = utcnow

    # ----- what tests and the console use --------------------------------------------------

    def alerts(self) -> list[dict[str, Any]]:
        return sorted(self.store.all("alert"), key=lambda a: a["seq"])

    def pages(self, routing_key: str | None = None) -> list[dict[str, Any]]:
        """Every notification (a phone ringing), oldest first."""
        pages = sorted(self.store.all("page"), key=lambda p: p["seq"])
        return [p for p in pages if routing_key is None or p["routing_key"] == routing_key]

    def set_phone(self, routing_key: str, mode: PhoneMode) -> None:
        self.store.put("phone", routing_key, {"mode": mode})

    def phone(self, routing_key: str) -> PhoneMode:
        doc = self.store.get("phone", routing_key)
        return doc["mode"] if doc else "no_answer"

    def set_page_outcome(self, page_id: int, outcome: PhoneMode) -> dict[str, Any]:
        """By hand: the ringing page is answered, goes to voicemail, or is left unanswered."""
        page = self.store.get("page", page_id)
        if page is None:
            raise KeyError(page_id)
        page["outcome"] = {"answer": "answered", "voicemail": "voicemail"}.get(outcome, "no_answer")
        page["outcome_at"] = self.clock().isoformat()
        self.store.put("page", page_id, page)
        if outcome == "answer":
            self._follow_ack_link(page)
        return page

    # ----- the Events API --------------------------------------------------------------------

    def _throttled(self, routing_key: str) -> bool:
        now = time.monotonic()
        window = self._recent.setdefault(routing_key, deque())
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= self.per_minute:
            return True
        window.append(now)
        return False

    def enqueue(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply a valid event; returns the 202 body."""
        key, action = body["routing_key"], body["event_action"]
        dedup = body.get("dedup_key") or f"auto-{self.store.next_id('auto')}"
        open_id = self.store.get("open", f"{key}:{dedup}")
        alert = self.store.get("alert", open_id["alert"]) if open_id else None
        now = self.clock().isoformat()
        if action == "trigger":
            if alert is None:
                alert = self._new_alert(key, dedup, body, now)
                self._notify(alert, now)
            else:
                alert["log"].append({"at": now, "event": "trigger", "notified": False})
        elif alert is not None:
            alert["status"] = "acknowledged" if action == "acknowledge" else "resolved"
            alert["log"].append({"at": now, "event": action})
            if action == "resolve":
                self.store.put("open", f"{key}:{dedup}", {"alert": None})
        if alert is not None:
            self.store.put("alert", alert["seq"], alert)
        return {"status": "success", "message": "Event processed", "dedup_key": dedup}

    def _new_alert(self, key: str, dedup: str, body: dict[str, Any], now: str) -> dict[str, Any]:
        seq = self.store.next_id("alert")
        payload = body["payload"]
        alert = {
            "seq": seq,
            "routing_key": key,
            "dedup_key": dedup,
            "status": "triggered",
            "summary": payload["summary"],
            "severity": payload["severity"],
            "source": payload["source"],
            "custom_details": payload.get("custom_details") or {},
            "links": body.get("links") or [],
            "created_at": now,
            "log": [{"at": now, "event": "trigger", "notified": True}],
        }
        self.store.put("open", f"{key}:{dedup}", {"alert": seq})
        return alert

    def _notify(self, alert: dict[str, Any], now: str) -> None:
        mode = self.phone(alert["routing_key"])
        seq = self.store.next_id("page")
        page = {
            "seq": seq,
            "alert": alert["seq"],
            "routing_key": alert["routing_key"],
            "dedup_key": alert["dedup_key"],
            "summary": alert["summary"],
            "custom_details": alert["custom_details"],
            "links": alert["links"],
            "at": now,
            "outcome": {"answer": "answered", "voicemail": "voicemail"}.get(mode, "ringing"),
            "outcome_at": None if mode == "no_answer" else now,
        }
        self.store.put("page", seq, page)
        if mode == "answer":
            self._follow_ack_link(page)

    def _follow_ack_link(self, page: dict[str, Any]) -> None:
        """The person taps "Acknowledge" in the page: a POST to that link, off the request."""
        link = next(
            (lk["href"] for lk in page["links"] if lk.get("text", "").lower() == "acknowledge"),
            None,
        )
        if link is None:
            return

        async def tap() -> None:
            async with httpx.AsyncClient(timeout=10.0) as http:
                for _ in range(5):
                    try:
                        r = await http.post(link)
                        if r.status_code < 500:
                            return
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.2)

        task = asyncio.get_running_loop().create_task(tap())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait for link taps in flight (tests)."""
        while self._tasks:
            await asyncio.sleep(0.02)


class PhoneSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: PhoneMode


def build_router(sim: PagingSim) -> APIRouter:
    router = APIRouter()

    @router.post(f"{PREFIX}/v2/enqueue", tags=["pagerduty"], status_code=202)
    async def enqueue(request: Request) -> Response:
        injected = await sim.faults.answer(
            request,
            lambda status, msg: JSONResponse({"status": "error", "message": msg}, status),
        )
        if injected is not None:
            return injected
        try:
            body = await request.json()
        except ValueError:
            return _invalid(["Event object is not valid JSON"])
        errors = event_errors(body)
        if errors:
            return _invalid(errors)
        if sim._throttled(body["routing_key"]):
            return JSONResponse(
                {
                    "status": "throttle event",
                    "message": "Requests for this service are arriving too quickly. "
                    "Please retry later.",
                },
                status_code=429,
            )
        return JSONResponse(sim.enqueue(body), status_code=202)

    @router.get(f"{CONTROL}/alerts", tags=["pagerduty test controls"])
    async def alerts() -> list[dict[str, Any]]:
        return sim.alerts()

    @router.get(f"{CONTROL}/pages", tags=["pagerduty test controls"])
    async def pages() -> list[dict[str, Any]]:
        return sim.pages()

    @router.put(f"{CONTROL}/phones/{{routing_key}}", tags=["pagerduty test controls"])
    async def set_phone(routing_key: str, setting: PhoneSetting) -> dict[str, str]:
        sim.set_phone(routing_key, setting.mode)
        return {"routing_key": routing_key, "mode": setting.mode}

    @router.post(f"{CONTROL}/pages/{{page_id}}/{{outcome}}", tags=["pagerduty test controls"])
    async def page_outcome(page_id: int, outcome: PhoneMode, request: Request) -> Response:
        try:
            sim.set_page_outcome(page_id, outcome)
        except KeyError:
            return JSONResponse({"error": f"no page {page_id}"}, status_code=404)
        if "text/html" in request.headers.get("accept", ""):
            return Response(status_code=303, headers={"Location": CONTROL})
        return JSONResponse({"page": page_id, "outcome": outcome})

    @router.post(f"{CONTROL}/faults", tags=["pagerduty test controls"])
    async def add_fault(request: Request) -> dict[str, Any]:
        return sim.faults.add(**(await request.json())).model_dump()

    @router.post(f"{CONTROL}/reset", tags=["pagerduty test controls"])
    async def reset() -> dict[str, bool]:
        sim.reset()
        return {"reset": True}

    @router.get(CONTROL, response_class=HTMLResponse, include_in_schema=False)
    async def console() -> str:
        rows = []
        for p in reversed(sim.pages()):
            buttons = "".join(
                f'<form method="post" action="{CONTROL}/pages/{p["seq"]}/{o}" '
                f'style="display:inline"><button>{label}</button></form>'
                for o, label in (
                    ("answer", "Answer"),
                    ("voicemail", "Voicemail"),
                    ("no_answer", "No answer"),
                )
            )
            rows.append(
                f"<tr><td>{p['seq']}</td><td>{html.escape(p['at'])}</td>"
                f"<td>{html.escape(str(p['custom_details'].get('on_call', p['routing_key'])))}"
                f"</td><td>{html.escape(p['summary'])}</td><td>{p['outcome']}</td>"
                f"<td>{buttons}</td></tr>"
            )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>PagerDuty stand-in</title>"
            "</head><body style='font-family: system-ui, sans-serif; margin: 2rem'>"
            "<h1>PagerDuty stand-in: pages</h1><table border='1' cellpadding='4'>"
            "<tr><th>#</th><th>at</th><th>person</th><th>page</th><th>phone</th><th></th></tr>"
            + "".join(rows)
            + "</table></body></html>"
        )

    return router
