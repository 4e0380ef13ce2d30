"""Stand-in for the HaloPSA API and its webhooks, over real HTTP on loopback.

It follows the facts in DESIGN.md "External systems": OAuth2 client credentials at
`POST {base}/auth/token` (form; `?tenant=` accepted) answering `{access_token, token_type:
"Bearer", expires_in: 3600}`; resources under `{base}/api`; create and update both POST an
ARRAY to the collection (an element with `id` updates); lists take `page_size`, `page_no`,
`pageinate=true` and answer `{record_count, tickets: [...]}`; notes and time entries are
Actions (`note_html`, `hiddenfromuser`, `new_status`, `timetaken` in decimal hours,
`chargerate` = work type); charge types at `GET /api/lookup?lookupid=17`. Dates are UTC
without an offset, as Halo writes them. Every new ticket and every action is POSTed to the
configured webhook (ticket and action in one JSON body), retried on failure.

Like hosted Halo, it answers 429 past a number of API requests in a rolling window
(`limit_rate`; hosted tenants report 300 per rolling 5 minutes), with a `Retry-After` saying
when the oldest request leaves the window.

Test and console controls live under `/_sim/halo` (log a ticket as an end user, reply as an
agent, put on hold, close, inject faults, lose deliveries); tests call the same methods
directly on `HaloSim`.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from sim.itsm_common import DocStore, Faults, RateLimit, WebhookSender, json_error, utcnow

PREFIX = "/halo"
CONTROL = "/_sim/halo"

STATUSES = {
    1: "New",
    2: "In Progress",
    3: "Waiting on User",
    4: "On Hold",
    8: "Resolved",
    9: "Closed",
}
HOLD_STATUSES = {3, 4}
CLOSED = 9
TICKET_TYPES = {1: "Incident", 3: "Service Request", 4: "Problem"}
PRIORITIES = {1: "Critical", 2: "High", 3: "Medium", 4: "Low"}
CHARGE_TYPES = [
    {"id": 1, "name": "SD - Remote Support"},
    {"id": 2, "name": "SD - Onsite Support"},
    {"id": 3, "name": "SD – Remote support – BH"},
    {"id": 7, "name": "Provisioning and Imaging"},
]
AGENT, END_USER = 1, 2  # who_type


def halo_time(moment: datetime) -> str:
    """Halo's date format: UTC, no offset."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class HaloSim:
    """The simulated Halo tenant: tickets and actions in SQLite, tokens, faults, webhooks."""

    def __init__(
        self,
        *,
        client_id: str = "deskflow",
        client_secret: str = "local-dev-secret",
        path: str = ":memory:",
        token_ttl: timedelta = timedelta(hours=1),
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.store = DocStore(path)
        self.faults = Faults()
        self.webhook = WebhookSender()
        self.clock = utcnow
        self.calls: list[tuple[str, str, int]] = []
        self._tokens: dict[str, datetime] = {}
        # Hosted Halo answers 429 past a number of API requests per rolling 5 minutes.
        self.rate = RateLimit(rolling=True)

    def limit_rate(self, calls: int | None, per_seconds: float = 300.0) -> None:
        """At most `calls` API requests in any `per_seconds` (rolling); `None` lifts it."""
        self.rate.set(calls, per_seconds)

    # ----- test and console controls ---------------------------------------------------------

    def reset(self) -> None:
        self.store.clear()
        self.faults.rules.clear()
        self.webhook.log.clear()
        self.calls.clear()
        self.limit_rate(None)

    def fail(self, **kwargs: Any):
        """Inject a fault (see `sim.itsm_common.Fault`): status 429/500/..., or "timeout"."""
        return self.faults.add(**kwargs)

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def log_ticket(
        self,
        summary: str,
        *,
        user_name: str = "Camille Martin",
        user_email: str = "camille.martin@example.org",
        client_id: int = 12,
        client_name: str = "Contoso",
        tickettype_id: int = 1,
        priority_id: int = 3,
        category_1: str = "",
        details: str = "",
        team: str = "",
        site_name: str = "",
        user_notes: str = "",
    ) -> dict[str, Any]:
        """An end user logs a ticket (portal or email): stored, action 1, webhook sent.
        `site_name` is the user's site (a university's department); `user_notes` the
        pop-up note on the user, where IT partners carry their red flag."""
        return self.save_ticket(
            {
                "summary": summary,
                "details": details,
                "user_name": user_name,
                "user_email": user_email,
                "client_id": client_id,
                "client_name": client_name,
                "tickettype_id": tickettype_id,
                "priority_id": priority_id,
                "category_1": category_1,
                "team": team,
                "site_name": site_name,
                "user_notes": user_notes,
            },
            who="end user",
        )

    def agent_reply(self, ticket_id: int, text: str, agent: str = "Alex Agent") -> dict[str, Any]:
        """An agent emails the end user from the ticket ("Email User")."""
        return self.add_action(
            ticket_id,
            {
                "outcome": "Email User",
                "note_html": text,
                "hiddenfromuser": False,
                "sendemail": True,
            },
            who=agent,
            who_type=AGENT,
        )

    def private_note(self, ticket_id: int, text: str, agent: str = "Alex Agent") -> dict[str, Any]:
        return self.add_action(
            ticket_id,
            {"outcome": "Private Note", "note_html": text, "hiddenfromuser": True},
            who=agent,
            who_type=AGENT,
        )

    def user_update(self, ticket_id: int, text: str) -> dict[str, Any]:
        ticket = self._ticket(ticket_id)
        return self.add_action(
            ticket_id,
            {"outcome": "End User Update", "note_html": text, "hiddenfromuser": False},
            who=ticket["user_name"],
            who_type=END_USER,
        )

    def set_status(self, ticket_id: int, status_id: int, agent: str = "Alex Agent"):
        outcome = "Close Ticket" if status_id == CLOSED else f"Status: {STATUSES[status_id]}"
        return self.add_action(
            ticket_id,
            {"outcome": outcome, "new_status": status_id, "hiddenfromuser": True},
            who=agent,
            who_type=AGENT,
        )

    def set_category(
        self, ticket_id: int, category_1: str, agent: str = "Pat Procurement"
    ) -> dict[str, Any]:
        """An agent changes the ticket's category (Halo writes "Parent>Child")."""
        return self.save_ticket({"id": ticket_id, "category_1": category_1}, who=agent)

    def log_time(
        self, ticket_id: int, hours: float, chargerate: int, agent: str = "Alex Agent", text=""
    ) -> dict[str, Any]:
        """An agent enters time on the ticket (an action with `timetaken` and `chargerate`)."""
        return self.add_action(
            ticket_id,
            {
                "outcome": "Time Entry",
                "note_html": text or "Worked on the ticket",
                "hiddenfromuser": True,
                "timetaken": hours,
                "chargerate": chargerate,
            },
            who=agent,
            who_type=AGENT,
        )

    def delete_ticket(self, ticket_id: int) -> None:
        """An agent deletes the ticket (`DELETE /api/Tickets/{id}`): later calls on it 404.
        Halo sends no webhook for a deletion."""
        self._ticket(ticket_id)
        self.store.delete("ticket", ticket_id)

    def set_priority(self, ticket_id: int, priority_id: int) -> dict[str, Any]:
        return self.save_ticket({"id": ticket_id, "priority_id": priority_id}, who="Alex Agent")

    # ----- the API's behaviour ---------------------------------------------------------------

    def login(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "client_credentials":
            raise HTTPException(400, "unsupported_grant_type")
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            raise HTTPException(401, "invalid_client")
        token = secrets.token_urlsafe(24)
        self._tokens[token] = utcnow() + self.token_ttl
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.token_ttl.total_seconds()),
        }

    def require_token(self, request: Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expires = self._tokens.get(token.strip())
        if scheme.lower() != "bearer" or expires is None or expires <= utcnow():
            raise HTTPException(401, "Unauthorized")

    def _ticket(self, ticket_id: int) -> dict[str, Any]:
        ticket = self.store.get("ticket", ticket_id)
        if ticket is None:
            raise HTTPException(404, f"Ticket {ticket_id} not found")
        return ticket

    def save_ticket(self, body: dict[str, Any], who: str = "API") -> dict[str, Any]:
        """One element of `POST /api/Tickets`: create, or update when it carries `id`."""
        now = halo_time(self.clock())
        if body.get("id"):
            ticket = self._ticket(int(body["id"]))
            for key, value in body.items():
                if key == "customfields":
                    fields = {f["id"]: f for f in ticket.get("customfields", [])}
                    fields.update({f["id"]: f for f in value})
                    ticket["customfields"] = list(fields.values())
                elif key in ticket or key in ("team", "agent_id", "respondbydate", "fixbydate"):
                    ticket[key] = value
            self._derive(ticket)
            ticket["lastactiondate"] = now
            self.store.put("ticket", ticket["id"], ticket)
            self.webhook.send({"event": "ticket_updated", "ticket": ticket, "action": None})
            return ticket
        if not str(body.get("summary", "")).strip():
            raise HTTPException(400, "summary is required")
        tid = self.store.next_id("ticket", start=1001)
        ticket = {
            "id": tid,
            "summary": body["summary"],
            "details": body.get("details", ""),
            "tickettype_id": int(body.get("tickettype_id", 1)),
            "status_id": int(body.get("status_id", 1)),
            "priority_id": int(body.get("priority_id", 3)),
            "sla_id": int(body.get("sla_id", 1)),
            "team_id": body.get("team_id", 0),
            "team": body.get("team", ""),
            "agent_id": body.get("agent_id", 0),
            "client_id": int(body.get("client_id", 12)),
            "client_name": body.get("client_name", ""),
            "site_id": body.get("site_id", 0),
            "site_name": body.get("site_name", ""),
            "user_notes": body.get("user_notes", ""),
            "user_id": body.get("user_id", 0),
            "user_name": body.get("user_name", ""),
            "user_email": body.get("user_email", ""),
            "category_1": body.get("category_1", ""),
            "categoryid_1": body.get("categoryid_1", 0),
            "customfields": body.get("customfields", []),
            "parent_id": body.get("parent_id", 0),
            "onhold": False,
            "respondbydate": None,
            "fixbydate": None,
            "dateoccurred": now,
            "lastactiondate": now,
        }
        self._derive(ticket)
        self.store.put("ticket", tid, ticket)
        self._store_action(
            tid, {"outcome": "Logged", "note_html": ticket["details"]}, who, END_USER, now
        )
        action = self.store.get("action", f"{tid}:1")
        self.webhook.send({"event": "ticket_created", "ticket": ticket, "action": action})
        return ticket

    def _derive(self, ticket: dict[str, Any]) -> None:
        ticket["status_name"] = STATUSES.get(ticket["status_id"], "Unknown")
        ticket["onhold"] = ticket["status_id"] in HOLD_STATUSES
        ticket["priority_name"] = PRIORITIES.get(ticket["priority_id"], "")
        ticket["tickettype_name"] = TICKET_TYPES.get(ticket["tickettype_id"], "")

    def _store_action(
        self, ticket_id: int, body: dict[str, Any], who: str, who_type: int, now: str
    ) -> dict[str, Any]:
        n = self.store.next_id(f"action:{ticket_id}")
        action = {
            "id": n,
            "ticket_id": ticket_id,
            "outcome": body.get("outcome", "Note"),
            "outcome_id": body.get("outcome_id", 0),
            "who": who,
            "who_type": who_type,
            "datetime": now,
            "note_html": body.get("note_html", ""),
            "hiddenfromuser": bool(body.get("hiddenfromuser", True)),
            "sendemail": bool(body.get("sendemail", False)),
            "new_status": body.get("new_status"),
            "timetaken": float(body.get("timetaken", 0) or 0),
            "chargerate": body.get("chargerate", 0),
        }
        self.store.put("action", f"{ticket_id}:{n}", action)
        return action

    def add_action(
        self, ticket_id: int, body: dict[str, Any], who: str = "API", who_type: int = AGENT
    ) -> dict[str, Any]:
        """One element of `POST /api/Actions`; a `new_status` moves the ticket too."""
        ticket = self._ticket(ticket_id)
        now = halo_time(self.clock())
        if body.get("new_status"):
            if int(body["new_status"]) not in STATUSES:
                raise HTTPException(400, f"unknown status {body['new_status']}")
            ticket["status_id"] = int(body["new_status"])
            self._derive(ticket)
        action = self._store_action(ticket_id, body, who, who_type, now)
        ticket["lastactiondate"] = now
        self.store.put("ticket", ticket_id, ticket)
        self.webhook.send({"event": "action_added", "ticket": ticket, "action": action})
        return action

    def actions(self, ticket_id: int) -> list[dict[str, Any]]:
        found = [a for a in self.store.all("action") if a["ticket_id"] == ticket_id]
        return sorted(found, key=lambda a: a["id"])

    def list_tickets(self, params: dict[str, str]) -> dict[str, Any]:
        tickets = sorted(self.store.all("ticket"), key=lambda t: t["id"])
        if params.get("search"):
            needle = params["search"].lower()
            tickets = [t for t in tickets if needle in (t["summary"] + t["details"]).lower()]
        if params.get("datesearch") == "lastactiondate" and params.get("startdate"):
            start = params["startdate"].replace("Z", "")
            tickets = [t for t in tickets if t["lastactiondate"] >= start]
        if params.get("open_only") == "true":
            tickets = [t for t in tickets if t["status_id"] != CLOSED]
        total = len(tickets)
        if params.get("pageinate") == "true":
            size = int(params.get("page_size", 50))
            page = int(params.get("page_no", 1))
            tickets = tickets[(page - 1) * size : page * size]
        return {"record_count": total, "tickets": tickets}


def build_router(sim: HaloSim) -> APIRouter:
    router = APIRouter()

    async def guarded(request: Request) -> None:
        sim.calls.append((request.method, request.url.path, 0))
        injected = await sim.faults.answer(request, json_error)
        if injected is not None:
            raise _Injected(injected)
        sim.require_token(request)
        verdict = sim.rate.take()
        if verdict is not None and not verdict.allowed:
            window = f"{sim.rate.per_seconds / 60:g} minute"
            limited = json_error(
                429, f"Rate limit reached: {verdict.limit} requests per rolling {window} window"
            )
            limited.headers["Retry-After"] = str(verdict.retry_after)
            raise _Injected(limited)

    auth = [Depends(guarded)]

    @router.post(f"{PREFIX}/auth/token", include_in_schema=False)
    async def token(request: Request) -> Response:
        injected = await sim.faults.answer(request, json_error)
        if injected is not None:
            return injected
        form = await request.form()
        try:
            return JSONResponse(sim.login({k: str(v) for k, v in form.items()}))
        except HTTPException as exc:
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    @router.get(f"{PREFIX}/api/Tickets/{{ticket_id}}", dependencies=auth)
    async def get_ticket(ticket_id: int) -> dict[str, Any]:
        return sim._ticket(ticket_id)

    @router.delete(f"{PREFIX}/api/Tickets/{{ticket_id}}", dependencies=auth)
    async def delete_ticket(ticket_id: int) -> Response:
        sim.delete_ticket(ticket_id)
        return Response(status_code=200)

    @router.get(f"{PREFIX}/api/Tickets", dependencies=auth)
    async def list_tickets(request: Request) -> dict[str, Any]:
        return sim.list_tickets(dict(request.query_params))

    @router.post(f"{PREFIX}/api/Tickets", dependencies=auth)
    async def post_tickets(request: Request) -> Any:
        body = await _array(request)
        saved = [sim.save_ticket(item) for item in body]
        return saved[0] if len(saved) == 1 else saved

    @router.get(f"{PREFIX}/api/Actions", dependencies=auth)
    async def list_actions(ticket_id: int) -> dict[str, Any]:
        actions = sim.actions(ticket_id)
        return {"record_count": len(actions), "actions": actions}

    @router.post(f"{PREFIX}/api/Actions", dependencies=auth)
    async def post_actions(request: Request) -> Any:
        body = await _array(request)
        saved = []
        for item in body:
            if not isinstance(item.get("ticket_id"), int):
                raise HTTPException(400, "ticket_id is required")
            saved.append(sim.add_action(item["ticket_id"], item, who="API", who_type=AGENT))
        return saved[0] if len(saved) == 1 else saved

    @router.get(f"{PREFIX}/api/lookup", dependencies=auth)
    async def lookup(lookupid: int) -> list[dict[str, Any]]:
        if lookupid != 17:
            raise HTTPException(404, "unknown lookup")
        return CHARGE_TYPES

    # ----- console and test controls ---------------------------------------------------------

    @router.get(CONTROL, response_class=HTMLResponse, include_in_schema=False)
    async def console() -> str:
        rows = "".join(
            f"<tr><td>{t['id']}</td><td>{t['summary']}</td><td>{t['status_name']}</td>"
            f"<td>{t['priority_name']}</td><td>{t['team'] or '-'}</td>"
            f"<td>{t['respondbydate'] or '-'}</td><td>{t['fixbydate'] or '-'}</td></tr>"
            for t in sorted(sim.store.all("ticket"), key=lambda t: -t["id"])
        )
        return (
            "<!doctype html><meta charset=utf-8><title>Halo stand-in</title>"
            "<body style='font-family:system-ui;margin:2rem'><h1>HaloPSA stand-in</h1>"
            f"<form method=post action='{CONTROL}/tickets'>Log a ticket: "
            "<input name=summary required placeholder=Summary> "
            "<input name=category_1 placeholder=Category> "
            "<select name=priority_id><option value=1>Critical</option><option value=2>High"
            "</option><option value=3 selected>Medium</option><option value=4>Low</option>"
            "</select> <button>Log</button></form><table border=1 cellpadding=4>"
            "<tr><th>Id</th><th>Summary</th><th>Status</th><th>Priority</th><th>Team</th>"
            f"<th>Respond by</th><th>Fix by</th></tr>{rows}</table></body>"
        )

    @router.get(f"{CONTROL}/tickets")
    async def console_list() -> list[dict[str, Any]]:
        return sorted(sim.store.all("ticket"), key=lambda t: t["id"])

    @router.post(f"{CONTROL}/tickets", include_in_schema=False)
    async def console_log(
        summary: str = Form(...), category_1: str = Form(""), priority_id: int = Form(3)
    ) -> Response:
        sim.log_ticket(summary, category_1=category_1, priority_id=priority_id)
        return Response(status_code=303, headers={"Location": CONTROL})

    @router.post(f"{CONTROL}/tickets/{{ticket_id}}/{{what}}")
    async def control(ticket_id: int, what: str, request: Request) -> dict[str, Any]:
        body = await request.json() if await request.body() else {}
        text = str(body.get("text", ""))
        if what == "reply":
            return sim.agent_reply(ticket_id, text)
        if what == "note":
            return sim.private_note(ticket_id, text)
        if what == "user-update":
            return sim.user_update(ticket_id, text)
        if what == "status":
            return sim.set_status(ticket_id, int(body["status_id"]))
        if what == "category":
            return sim.set_category(ticket_id, str(body["category_1"]))
        if what == "time":
            return sim.log_time(ticket_id, float(body["hours"]), int(body["chargerate"]))
        raise HTTPException(404, f"unknown control {what}")

    @router.post(f"{CONTROL}/webhook")
    async def configure_webhook(body: dict[str, Any]) -> dict[str, Any]:
        auth = tuple(body["auth"]) if body.get("auth") else None
        sim.webhook.configure(body.get("url"), auth)  # type: ignore[arg-type]
        return {"url": sim.webhook.url}

    @router.post(f"{CONTROL}/faults")
    async def add_fault(body: dict[str, Any]) -> dict[str, Any]:
        return sim.fail(**body).model_dump()

    @router.post(f"{CONTROL}/lose-deliveries")
    async def lose(body: dict[str, int]) -> dict[str, int]:
        sim.webhook.lose_next(int(body.get("count", 1)))
        return {"lose_next": sim.webhook._lose}

    return router


class _Injected(HTTPException):
    """Carries an injected fault's response out of a dependency."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def _array(request: Request) -> list[dict[str, Any]]:
    """Halo's create/update body: an array of objects, refused otherwise."""
    try:
        body = await request.json()
    except ValueError as exc:
        raise HTTPException(400, "body is not JSON") from exc
    if not isinstance(body, list) or not all(isinstance(i, dict) for i in body):
        raise HTTPException(400, "POST an array of records")
    return body


def injected_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _Injected)
    return exc.response
