"""Stand-in for the ServiceNow Table API and an outbound REST message, over loopback HTTP.

Facts followed (DESIGN.md "External systems"): `GET|POST|PATCH /api/now/table/{table}` for
`incident`, `problem`, `sys_user`, `sys_user_group` and `sys_journal_field`, with
`sysparm_query` (`field=value`, `field>=value`, `fieldLIKEtext`, `^` for AND,
`ORDERBYfield`), `sysparm_fields` (dot-walking `caller_id.email` included),
`sysparm_limit` and `sysparm_display_value`; Basic auth, or OAuth 2.0 bearer tokens from
`POST /oauth_token.do` (form-encoded, grant `password` or `client_credentials`, tokens valid
30 minutes); answers `{"result": ...}` with every
value a string (`"state": "3"`) and reference fields as `{link, value}` unless display values
are asked for. Incident `state`: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed,
8 Canceled; resolving without `close_code` and `close_notes` is refused as a data policy;
`work_notes` and `comments` written on a record become journal entries. A business rule
POSTs every insert and update, with the latest journal entry, to the configured REST message
endpoint. Records live in SQLite and survive a restart; faults as in `sim.itsm_common`. A
rate-limit rule (`limit_rate`, per user and per hour on an instance) puts `X-RateLimit-Limit`,
`X-RateLimit-Remaining`, `X-RateLimit-Reset` (UNIX time) and `X-RateLimit-Rule` on every
answer it counts, and answers 429 with `Retry-After` once the window's calls are spent.
"""

from __future__ import annotations

import base64
import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from sim.itsm_common import DocStore, Faults, RateLimit, WebhookSender, utcnow

PREFIX = "/servicenow"
CONTROL = "/_sim/servicenow"
TABLES = ("incident", "problem", "sys_user", "sys_user_group", "sys_journal_field")
STATES = {
    "1": "New",
    "2": "In Progress",
    "3": "On Hold",
    "6": "Resolved",
    "7": "Closed",
    "8": "Canceled",
}
REFERENCES = ("assignment_group", "assigned_to", "caller_id", "company", "problem_id")
CALLER_FIELDS = ("email", "department", "u_red_flag_note")
RATE_RULE = "5f1d3a0c1b7e4c2d9a6b8e0f1c2d3e4f"  # the rule's sys_id (X-RateLimit-Rule)
_CLAUSE = re.compile(r"^([a-z_.]+?)(>=|<=|!=|=|>|<|LIKE)(.*)$")


def sn_time(moment: datetime) -> str:
    """ServiceNow's date-time format (UTC through the API)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def sn_error(status: int, message: str, detail: str = "") -> Response:
    return JSONResponse(
        {"error": {"message": message, "detail": detail}, "status": "failure"}, status_code=status
    )


class ServiceNowSim:
    """The simulated instance: tables in SQLite, Basic auth, faults, the REST message."""

    def __init__(
        self,
        *,
        user: str = "deskflow",
        password: str = "local-dev-secret",
        path: str = ":memory:",
        client_id: str = "deskflow",
        client_secret: str = "local-dev-secret",
        token_ttl: timedelta = timedelta(minutes=30),
    ) -> None:
        self.user, self.password = user, password
        # The instance's OAuth application (Application Registry): its client id and secret,
        # and the lifespan of its access tokens (30 minutes by default on an instance).
        self.client_id, self.client_secret, self.token_ttl = client_id, client_secret, token_ttl
        self._tokens: dict[str, tuple[str, datetime]] = {}  # token -> (user, expires)
        self.store = DocStore(path)
        self.faults = Faults()
        self.webhook = WebhookSender()
        self.clock = utcnow
        self.calls: list[tuple[str, str]] = []
        # An instance's rate-limit rule (sys_rate_limit_rules): per user, per hour by default.
        self.rate = RateLimit(rolling=False)

    @property
    def throttled(self) -> int:
        """Calls answered 429 by the rate-limit rule."""
        return self.rate.refused

    def limit_rate(self, calls: int | None, per_seconds: float = 3600.0) -> None:
        """A rate-limit rule as an instance has them: per user, `calls` in each window of
        `per_seconds` (an hour on a real instance, reset on the hour); over it, 429 with
        Retry-After until the window ends. `None` lifts it."""
        self.rate.set(calls, per_seconds)

    def reset(self) -> None:
        self.store.clear()
        self.faults.rules.clear()
        self.webhook.log.clear()
        self.calls.clear()
        self.limit_rate(None)

    def fail(self, **kwargs: Any):
        return self.faults.add(**kwargs)

    def authenticated(self, authorization: str) -> str | None:
        """The user a request's `Authorization` header proves (Basic, or an OAuth bearer
        token still valid), or None."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            user, expires = self._tokens.get(value.strip(), ("", utcnow()))
            return user if expires > utcnow() else None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        if scheme.lower() != "basic" or (user, password) != (self.user, self.password):
            return None
        return user

    def issue_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """`POST /oauth_token.do`: grant `password` (the application's client id and secret
        and a user's credentials) or `client_credentials` (the application's alone, acting
        as the user its registry entry names); an access token valid `token_ttl`."""
        denied = {"error_description": "access_denied", "error": "server_error"}
        grant = form.get("grant_type")
        if grant not in ("password", "client_credentials"):
            return 400, {"error_description": "unsupported_grant_type", "error": "server_error"}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return 401, denied
        if grant == "password" and (form.get("username"), form.get("password")) != (
            self.user,
            self.password,
        ):
            return 401, denied
        token = secrets.token_urlsafe(32)
        self._tokens[token] = (self.user, utcnow() + self.token_ttl)
        body = {
            "access_token": token,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": int(self.token_ttl.total_seconds()) - 1,
        }
        if grant == "password":
            body["refresh_token"] = secrets.token_urlsafe(32)
        return 200, body

    def revoke_tokens(self) -> None:
        """Every access token stops working (revoked, or the instance restarted)."""
        self._tokens.clear()

    # ----- console and test controls ---------------------------------------------------------

    def add_user(
        self, name: str, email: str, department: str = "", red_flag_note: str = ""
    ) -> dict[str, Any]:
        """A sys_user; `department` is its cmn_department's name, `red_flag_note` the
        instance's custom client alert (`u_red_flag_note`, how IT partners are flagged)."""
        existing = self.query("sys_user", f"name={name}")
        if existing:
            return existing[0]
        body = {"name": name, "email": email, "user_name": email, "department": department}
        return self.insert("sys_user", {**body, "u_red_flag_note": red_flag_note}, False)

    def log_incident(
        self,
        short_description: str,
        *,
        caller: str = "Jordan Lee",
        caller_email: str = "jordan.lee@example.edu",
        company: str = "Contoso",
        category: str = "",
        priority: str = "3",
        assignment_group: str = "",
        department: str = "",
        red_flag_note: str = "",
        description: str = "",
    ) -> dict[str, Any]:
        """A caller logs an incident (portal or phone): stored, REST message sent."""
        self.add_user(caller, caller_email, department, red_flag_note)
        return self.insert(
            "incident",
            {
                "short_description": short_description,
                "description": description,
                "caller_id": caller,
                "company": company,
                "category": category,
                "priority": priority,
                "assignment_group": assignment_group,
            },
            by=caller,
        )

    def comment(self, number: str, text: str, by: str = "Sam Agent") -> dict[str, Any]:
        """A customer-visible comment (an agent's reply, or the caller's update)."""
        return self.update("incident", self._by_number(number)["sys_id"], {"comments": text}, by)

    def work_note(self, number: str, text: str, by: str = "Sam Agent") -> dict[str, Any]:
        return self.update("incident", self._by_number(number)["sys_id"], {"work_notes": text}, by)

    def set_state(self, number: str, state: str, by: str = "Sam Agent", **extra: str):
        fields = {"state": state, **extra}
        return self.update("incident", self._by_number(number)["sys_id"], fields, by)

    # ----- table behaviour -------------------------------------------------------------------

    def _by_number(self, number: str) -> dict[str, Any]:
        found = self.query("incident", f"number={number}")
        if not found:
            raise HTTPException(404, f"No record found: {number}")
        return found[0]

    def query(self, table: str, query: str = "", limit: int | None = None) -> list[dict[str, Any]]:
        clauses = list(filter(None, query.split("^")))
        exact = next((m for c in clauses if (m := _CLAUSE.match(c)) and m.group(2) == "="), None)
        if exact is not None and "." not in exact.group(1):
            rows = self.store.find(table, exact.group(1), exact.group(3))
        else:
            rows = self.store.all(table)
        order = None
        for clause in clauses:
            if clause.startswith("ORDERBY"):
                order = clause.removeprefix("ORDERBY")
                continue
            m = _CLAUSE.match(clause)
            if m is None:
                continue  # ServiceNow ignores what it cannot parse, too
            field, op, value = m.groups()
            rows = [r for r in rows if _match(str(r.get(field, "")), op, value)]
        rows.sort(key=lambda r: (r.get(order or "sys_created_on", ""), r.get("number", "")))
        return rows[:limit] if limit else rows

    def insert(self, table: str, body: dict[str, Any], notify: bool = True, by: str = "API"):
        now = sn_time(self.clock())
        sys_id = uuid.uuid4().hex
        record = {k: str(v) for k, v in body.items() if k not in ("work_notes", "comments")}
        record.update(sys_id=sys_id, sys_created_on=now, sys_updated_on=now, sys_created_by=by)
        if table in ("incident", "problem"):
            prefix = "INC" if table == "incident" else "PRB"
            record["number"] = f"{prefix}{self.store.next_id(table, start=10001):07d}"
            record.setdefault("state", "1")
            record.setdefault("priority", "3")
            record["opened_at"] = now
            record.setdefault("active", "true")
        self.store.put(table, sys_id, record)
        journal = self._journal(sys_id, body, by, now)
        if notify and table == "incident":
            self._notify("insert", record, journal)
        return record

    def update(self, table: str, sys_id: str, body: dict[str, Any], by: str = "API"):
        record = self.store.get(table, sys_id)
        if record is None:
            raise HTTPException(404, "No Record found")
        state = str(body.get("state", record.get("state", "")))
        if table == "incident" and state == "6" and record.get("state") != "6":
            merged = {**record, **{k: str(v) for k, v in body.items()}}
            if not merged.get("close_code") or not merged.get("close_notes"):
                raise _Policy(
                    "The following fields are mandatory: Resolution code, Resolution notes"
                )
        now = sn_time(self.clock())
        for key, value in body.items():
            if key not in ("work_notes", "comments", "sys_id", "number"):
                record[key] = str(value) if value is not None else ""
        record["active"] = "false" if record.get("state") in ("6", "7", "8") else "true"
        record["sys_updated_on"] = now
        self.store.put(table, sys_id, record)
        journal = self._journal(sys_id, body, by, now)
        if table == "incident":
            self._notify("update", record, journal)
        return record

    def _journal(self, sys_id: str, body: dict[str, Any], by: str, now: str):
        entry = None
        for element in ("comments", "work_notes"):
            if body.get(element):
                n = self.store.next_id(f"journal:{sys_id}")
                entry = {
                    "sys_id": uuid.uuid4().hex,
                    "element_id": sys_id,
                    "element": element,
                    "value": str(body[element]),
                    "sys_created_on": now,
                    "sys_created_by": by,
                    "u_sequence": str(n),
                }
                self.store.put("sys_journal_field", entry["sys_id"], entry)
        return entry

    def _notify(self, operation: str, record: dict[str, Any], journal: dict | None) -> None:
        shown = self.show(record, display=True, fields=None)
        self.webhook.send(
            {
                "table": "incident",
                "operation": operation,
                "sys_id": record["sys_id"],
                "number": record["number"],
                "sys_updated_on": record["sys_updated_on"],
                "record": shown,
                "journal": journal,
            }
        )

    def show(self, record: dict[str, Any], display: bool, fields: list[str] | None):
        out: dict[str, Any] = {}
        for key, value in record.items():
            if key in REFERENCES and not display:
                out[key] = {"link": f"/api/now/table/x/{value}", "value": value} if value else ""
            elif key == "problem_id" and value:  # a problem's display value is its number
                problem = self.store.get("problem", value)
                out[key] = problem["number"] if problem else value
            else:
                out[key] = value
        caller = self.query("sys_user", f"name={record.get('caller_id', '')}")
        for walked in CALLER_FIELDS:  # dot-walked through the caller's sys_user record
            out[f"caller_id.{walked}"] = caller[0].get(walked, "") if caller else ""
        if fields:
            out = {k: out.get(k, "") for k in fields}
        return out


def _match(actual: str, op: str, value: str) -> bool:
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    if op == "LIKE":
        return value.lower() in actual.lower()
    return {">=": actual >= value, "<=": actual <= value, ">": actual > value, "<": actual < value}[
        op
    ]


class _Policy(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(403, detail)


class _Injected(HTTPException):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def exception_handlers() -> dict[type[Exception], Any]:
    def injected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Injected)
        return exc.response

    def policy(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Policy)
        return sn_error(403, "Data Policy Exception", str(exc.detail))

    return {_Injected: injected, _Policy: policy}


def build_router(sim: ServiceNowSim) -> APIRouter:
    router = APIRouter()

    async def guarded(request: Request, response: Response) -> None:
        sim.calls.append((request.method, request.url.path))
        injected = await sim.faults.answer(request, lambda s, m: sn_error(s, m))
        if injected is not None:
            raise _Injected(injected)
        user = sim.authenticated(request.headers.get("Authorization", ""))
        if user is None:
            raise _Injected(sn_error(401, "User Not Authenticated", "Required to provide Auth"))
        verdict = sim.rate.take(user)
        if verdict is None:
            return
        headers = {
            "X-RateLimit-Limit": str(verdict.limit),
            "X-RateLimit-Remaining": str(verdict.remaining),
            "X-RateLimit-Reset": str(int(verdict.reset_at)),
            "X-RateLimit-Rule": RATE_RULE,
        }
        if not verdict.allowed:
            limited = sn_error(
                429,
                "Rate limit exceeded",
                f"over {verdict.limit} requests in {sim.rate.per_seconds:.0f} s for user {user}",
            )
            limited.headers.update({**headers, "Retry-After": str(verdict.retry_after)})
            raise _Injected(limited)
        response.headers.update(headers)

    auth = [Depends(guarded)]

    @router.post(f"{PREFIX}/oauth_token.do", include_in_schema=False)
    async def oauth_token(request: Request) -> Response:
        injected = await sim.faults.answer(request, lambda s, m: sn_error(s, m))
        if injected is not None:
            return injected
        form = await request.form()
        status, body = sim.issue_token({k: str(v) for k, v in form.items()})
        return JSONResponse(body, status_code=status)

    def table_of(table: str) -> str:
        if table not in TABLES:
            raise _Injected(sn_error(400, "Invalid table", table))
        return table

    @router.get(f"{PREFIX}/api/now/table/{{table}}", dependencies=auth)
    async def list_records(table: str, request: Request) -> dict[str, Any]:
        p = request.query_params
        limit = int(p.get("sysparm_limit", "10000"))
        rows = sim.query(table_of(table), p.get("sysparm_query", ""), limit)
        fields = p["sysparm_fields"].split(",") if p.get("sysparm_fields") else None
        display = p.get("sysparm_display_value") == "true"
        return {"result": [sim.show(r, display, fields) for r in rows]}

    @router.get(f"{PREFIX}/api/now/table/{{table}}/{{sys_id}}", dependencies=auth)
    async def get_record(table: str, sys_id: str, request: Request) -> dict[str, Any]:
        record = sim.store.get(table_of(table), sys_id)
        if record is None:
            raise _Injected(sn_error(404, "No Record found", "Record doesn't exist"))
        display = request.query_params.get("sysparm_display_value") == "true"
        return {"result": sim.show(record, display, None)}

    @router.post(f"{PREFIX}/api/now/table/{{table}}", dependencies=auth, status_code=201)
    async def insert(table: str, request: Request) -> dict[str, Any]:
        body = await _object(request)
        record = sim.insert(table_of(table), body)
        return {"result": sim.show(record, True, None)}

    @router.patch(f"{PREFIX}/api/now/table/{{table}}/{{sys_id}}", dependencies=auth)
    async def patch(table: str, sys_id: str, request: Request) -> dict[str, Any]:
        body = await _object(request)
        record = sim.update(table_of(table), sys_id, body)
        return {"result": sim.show(record, True, None)}

    @router.get(CONTROL, response_class=HTMLResponse, include_in_schema=False)
    async def console() -> str:
        rows = "".join(
            f"<tr><td>{r['number']}</td><td>{r['short_description']}</td>"
            f"<td>{STATES.get(r['state'], r['state'])}</td><td>{r['priority']}</td>"
            f"<td>{r.get('assignment_group') or '-'}</td></tr>"
            for r in sim.query("incident", "ORDERBYnumber")
        )
        return (
            "<!doctype html><meta charset=utf-8><title>ServiceNow stand-in</title>"
            "<body style='font-family:system-ui;margin:2rem'><h1>ServiceNow stand-in</h1>"
            "<table border=1 cellpadding=4><tr><th>Number</th><th>Short description</th>"
            f"<th>State</th><th>Priority</th><th>Group</th></tr>{rows}</table></body>"
        )

    @router.post(f"{CONTROL}/incidents")
    async def control_log(body: dict[str, Any]) -> dict[str, Any]:
        return sim.log_incident(**body)

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


async def _object(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise _Injected(sn_error(400, "Exception while reading request", "not JSON")) from exc
    if not isinstance(body, dict):
        raise _Injected(sn_error(400, "Exception while reading request", "expected an object"))
    return body
