"""Stand-in for the TeamDynamix Web API, served over real HTTP on loopback.

It honours the facts the product is built around (admin login by BEID and web services key,
bearer tokens valid 24 hours, per-method per-IP fixed-window rate limits with the
`X-RateLimit-*` headers, JSON Patch on tickets) so the TDX client and the activities can be
tested against the same wire behaviour they meet in production, only faster: the window and
the limits are configurable. Faults (429, 5xx, slow answers) are injected by rule so tests can
prove the retry behaviour. The tenant's data (tickets, tasks, feeds, assets, people,
locations, tokens and the one ID counter they all share) is kept in a SQLite file given as
`path`, so a restart changes nothing a running ticket sees and a new record never reuses an
ID; a `TdxSim` also holds it all in plain dicts that tests may read and drive directly
(`path=":memory:"` for throwaway tests). Calls, faults and rate windows are not kept.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import random
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.itsm_common import DocStore

API_PREFIX = "/TDWebApi/api"
CONTROL_PREFIX = "/_sim/tdx"

# TDX serializes its enums as numbers (TeamDynamix.Api.Statuses.StatusClass).
CLASS_NEW = 1
CLASS_IN_PROCESS = 2
CLASS_COMPLETED = 3
CLASS_CANCELLED = 4
CLASS_ON_HOLD = 5
CLASS_REQUESTED = 6
# Ticket classifications (TeamDynamix.Api.Tickets.TicketClass) a ticket may be created with.
TICKET_CLASSES = {
    32: "Incident",
    33: "Problem",
    34: "Change",
    35: "Release",
    46: "Service Request",
    77: "Major Incident",
}
SERVICE_REQUEST = 46

# Ticket statuses of the simulated ticketing application: ID -> (name, status class).
STATUS_NEW = 1
STATUS_OPEN = 2
STATUS_IN_PROCESS = 3
STATUS_ON_HOLD = 4
STATUS_RESOLVED = 5
STATUS_CLOSED = 6
STATUS_CANCELLED = 7
STATUSES: dict[int, tuple[str, int]] = {
    STATUS_NEW: ("New", CLASS_NEW),
    STATUS_OPEN: ("Open", CLASS_IN_PROCESS),
    STATUS_IN_PROCESS: ("In Process", CLASS_IN_PROCESS),
    STATUS_ON_HOLD: ("On Hold", CLASS_ON_HOLD),
    STATUS_RESOLVED: ("Resolved", CLASS_COMPLETED),
    STATUS_CLOSED: ("Closed", CLASS_COMPLETED),
    STATUS_CANCELLED: ("Cancelled", CLASS_CANCELLED),
}
FINISHED_CLASSES = {CLASS_COMPLETED, CLASS_CANCELLED}

# Fields a ticket create or full edit may set; everything else on a ticket is derived.
_TICKET_REQUIRED = ("TypeID", "Title", "AccountID", "StatusID")
_TICKET_EDITABLE: dict[str, Any] = {
    "TypeID": 0,
    "Title": "",
    "Description": "",
    "AccountID": 0,
    "StatusID": 0,
    "PriorityID": 0,
    "ImpactID": 0,
    "UrgencyID": 0,
    "SourceID": 0,
    "ServiceID": 0,
    "FormID": 0,
    "RequestorUid": None,
    "ResponsibleUid": None,
    "ResponsibleGroupID": 0,
    "LocationID": 0,
    "LocationRoomID": 0,
    "StartDate": None,
    "EndDate": None,
    "GoesOffHoldDate": None,
    "EstimatedMinutes": 0,
    "IsRichHtml": False,
}
_TASK_EDITABLE: dict[str, Any] = {
    "Title": "",
    "Description": "",
    "StartDate": None,
    "EndDate": None,
    "CompleteWithinMinutes": None,
    "EstimatedMinutes": 0,
    "ResponsibleUid": None,
    "ResponsibleGroupID": 0,
    "PredecessorID": None,
    "Order": 1,
}


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class TdxFault(BaseModel):
    """One injected failure: the next `count` calls matching `method` and `path` misbehave.

    `path` is a regular expression searched in the request path (for example
    `r"/tickets$"`); `method` is an HTTP verb or `*`. `status` is 429, a 5xx code, or
    `"timeout"`, which sleeps `delay` seconds and then answers normally (so the work is done
    even though the caller gave up, as with a real slow server). A 429 advertises a reset
    `reset_after` seconds ahead (default: the rate-limit window). `count=None` never runs out.
    `chance` below 1 makes the rule hit only that share of matching calls (drawn from the
    stand-in's seeded generator); a call it spares does not use up `count`. `after_work`
    makes a 5xx answer come after the call was carried out, as a gateway error in front of a
    server that did the work.
    """

    model_config = ConfigDict(extra="forbid")

    method: str = "*"
    path: str = ".*"
    status: int | Literal["timeout"] = 500
    count: int | None = 1
    delay: float = 5.0
    reset_after: float | None = None
    chance: float = Field(1.0, gt=0, le=1)
    after_work: bool = False

    @field_validator("method")
    @classmethod
    def _upper_method(cls, value: str) -> str:
        return value.upper()

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: int | str) -> int | str:
        if value != "timeout" and value not in (429, 500, 502, 503, 504):
            raise ValueError("status must be 429, 500, 502, 503, 504 or 'timeout'")
        return value

    @field_validator("path")
    @classmethod
    def _valid_regex(cls, value: str) -> str:
        re.compile(value)
        return value

    @model_validator(mode="after")
    def _work_then_5xx(self) -> TdxFault:
        if self.after_work and (self.status == "timeout" or self.status == 429):
            raise ValueError("after_work applies to 5xx answers only")
        return self

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and re.search(self.path, path) is not None


@dataclass(frozen=True)
class TdxCall:
    """One call the API answered, for tests that count or order calls."""

    method: str
    path: str
    route: str
    status: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "status": self.status,
            "at": _iso(self.at),
        }


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass(frozen=True)
class _Decision:
    allowed: bool
    headers: dict[str, str]


@dataclass
class _RateLimiter:
    """Fixed windows per (method, client IP), each starting at its first call, as TDX does."""

    window_seconds: float
    default_limit: int
    limits: dict[str, int] = field(default_factory=dict)
    _windows: dict[tuple[str, str], _Window] = field(default_factory=dict)

    def hit(self, method_key: str, client: str) -> _Decision:
        now = time.time()
        window = self._windows.get((method_key, client))
        if window is None or now >= window.started + self.window_seconds:
            window = self._windows[(method_key, client)] = _Window(started=now)
        window.count += 1
        limit = self.limits.get(method_key, self.default_limit)
        reset_at = window.started + self.window_seconds
        return _Decision(
            allowed=window.count <= limit,
            headers=limit_headers(limit, max(0, limit - window.count), reset_at),
        )

    def limit_for(self, method_key: str) -> int:
        return self.limits.get(method_key, self.default_limit)

    def clear(self) -> None:
        self._windows.clear()


def limit_headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
    """The three TDX rate-limit headers.

    The reset date has whole-second precision (RFC 1123), so it is rounded up: a caller that
    waits until the advertised moment must never arrive before the window really ends.
    """
    reset = datetime.fromtimestamp(math.ceil(reset_at), UTC)
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": format_datetime(reset, usegmt=True),
    }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"Message": message}, status_code=status, headers=headers)


class TdxSim:
    """All state of the simulated TDX tenant, plus the knobs tests turn.

    Reset by `reset()`, which keeps issued tokens (a client's cached login stays good, as it
    would against a real tenant whose data changed) and the ID counter; `revoke_tokens()`
    forgets the tokens. Every change is written through to `store` as it is made.
    """

    CREATE_TICKET_ROUTE = f"POST {API_PREFIX}/{{app_id}}/tickets"

    def __init__(
        self,
        *,
        beid: str = "00000000-0000-0000-0000-000000000000",
        web_services_key: str = "local-dev-key",
        window_seconds: float = 60.0,
        limit: int = 60,
        create_limit: int = 30,
        token_ttl: timedelta = timedelta(hours=24),
        path: str = ":memory:",
    ) -> None:
        self.beid = beid
        self.web_services_key = web_services_key
        self.token_ttl = token_ttl
        self.limiter = _RateLimiter(window_seconds, limit, {self.CREATE_TICKET_ROUTE: create_limit})
        self._secret = secrets.token_bytes(32)
        self.store = DocStore(path)
        self._tokens: dict[str, datetime] = {
            token["token"]: datetime.fromisoformat(token["expires"])
            for token in self.store.all("token")
        }
        self.tickets: dict[int, dict[str, Any]] = self._kept("ticket")
        self.tasks: dict[int, dict[str, Any]] = self._kept("task")
        self.feed: dict[int, list[dict[str, Any]]] = self._kept_feed("ticket_feed", self.tickets)
        self.task_feed: dict[int, list[dict[str, Any]]] = self._kept_feed("task_feed", self.tasks)
        self.assets: dict[int, dict[str, Any]] = self._kept("asset")
        self.people: dict[str, dict[str, Any]] = {p["UID"]: p for p in self.store.all("person")}
        self.locations: dict[int, dict[str, Any]] = self._kept("location")
        self.calls: list[TdxCall] = []
        self.faults: list[TdxFault] = []
        self.random = random.Random(0)  # draws for faults with a `chance`; reseed in tests
        self.injected: Counter[str] = Counter()  # faults served, by status ("timeout", "500")
        self.in_flight = 0  # API calls being answered right now (slow answers included)

    # ----------------------------------------------------------------- keeping state
    def _kept(self, kind: str) -> dict[int, dict[str, Any]]:
        return {doc["ID"]: doc for doc in sorted(self.store.all(kind), key=lambda d: d["ID"])}

    def _kept_feed(
        self, kind: str, items: dict[int, dict[str, Any]]
    ) -> dict[int, list[dict[str, Any]]]:
        feeds: dict[int, list[dict[str, Any]]] = {item_id: [] for item_id in items}
        for entry in sorted(self.store.all(kind), key=lambda e: e["ID"]):
            feeds.setdefault(entry["ItemID"], []).append(entry)
        return feeds

    def _keep(self, kind: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Write one record through to the file (records are changed in place, then kept)."""
        self.store.put(kind, doc["UID"] if kind == "person" else doc["ID"], doc)
        return doc

    def _keep_token(self, token: str, expires: datetime) -> None:
        self._tokens[token] = expires
        self.store.put("token", token, {"token": token, "expires": expires.isoformat()})

    # ----------------------------------------------------------------- test control
    def reset(self) -> None:
        """Forget all data, calls, faults and rate windows; tokens and numbering stay."""
        self.store.clear()
        for token, expires in self._tokens.items():
            self._keep_token(token, expires)
        self.tickets.clear()
        self.tasks.clear()
        self.feed.clear()
        self.task_feed.clear()
        self.assets.clear()
        self.people.clear()
        self.locations.clear()
        self.calls.clear()
        self.faults.clear()
        self.injected.clear()
        self.limiter.clear()

    def revoke_tokens(self) -> None:
        """Invalidate every issued token, so the next call answers 401."""
        self._tokens.clear()
        self.store.delete_kind("token")

    def configure_limits(
        self,
        *,
        window_seconds: float | None = None,
        limit: int | None = None,
        create_limit: int | None = None,
    ) -> None:
        """Change the rate limits; open windows are dropped so the new numbers apply at once."""
        if window_seconds is not None:
            self.limiter.window_seconds = window_seconds
        if limit is not None:
            self.limiter.default_limit = limit
        if create_limit is not None:
            self.limiter.limits[self.CREATE_TICKET_ROUTE] = create_limit
        self.limiter.clear()

    def fail(
        self,
        method: str = "*",
        path: str = ".*",
        status: int | Literal["timeout"] = 500,
        *,
        count: int | None = 1,
        delay: float = 5.0,
        reset_after: float | None = None,
        chance: float = 1.0,
        after_work: bool = False,
    ) -> TdxFault:
        """Queue a fault rule (see `TdxFault`); rules are consumed in the order added."""
        fault = TdxFault(
            method=method,
            path=path,
            status=status,
            count=count,
            delay=delay,
            reset_after=reset_after,
            chance=chance,
            after_work=after_work,
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def add_person(self, username: str, **fields: Any) -> dict[str, Any]:
        """Seed a person; `fields` use TDX names (UID, FullName, PrimaryEmail, ...)."""
        first = fields.pop("FirstName", username.capitalize())
        last = fields.pop("LastName", "Person")
        person: dict[str, Any] = {
            "UID": str(uuid.uuid4()),
            "UserName": username,
            "FirstName": first,
            "LastName": last,
            "FullName": f"{first} {last}",
            "PrimaryEmail": f"{username}@example.edu",
            "AlertEmail": f"{username}@example.edu",
            "DefaultAccountID": 0,
            "DefaultAccountName": "",
            "IsActive": True,
        } | fields
        self.people[person["UID"]] = person
        return self._keep("person", person)

    def add_location(self, name: str, **fields: Any) -> dict[str, Any]:
        """Seed a location; `Rooms` may be given as a list of room names or room dicts."""
        location_id = self._given_or_next_id(fields.pop("ID", None))
        rooms = [
            room if isinstance(room, dict) else {"ID": self._next_id(), "Name": room}
            for room in fields.pop("Rooms", [])
        ]
        location: dict[str, Any] = {
            "ID": location_id,
            "Name": name,
            "Description": "",
            "Address": "",
            "City": "",
            "State": "",
            "PostalCode": "",
            "Country": "USA",
            "IsActive": True,
            "Rooms": rooms,
        } | fields
        self.locations[location_id] = location
        return self._keep("location", location)

    def add_asset(self, serial_number: str, **fields: Any) -> dict[str, Any]:
        """Seed an asset; `fields` use TDX names and override the defaults.

        Owner and location names are filled from seeded people and locations when only their
        IDs are given, so a test can seed those first and reference them. Seeding a serial
        the tenant already has replaces that asset under its ID, so a demo that seeds at every
        start keeps one asset per serial.
        """
        known = next(
            (a["ID"] for a in self.assets.values() if a["SerialNumber"] == serial_number), None
        )
        asset_id = self._given_or_next_id(fields.pop("ID", None) or known)
        asset: dict[str, Any] = {
            "ID": asset_id,
            "AppID": 0,
            "SerialNumber": serial_number,
            "Tag": "",
            "Name": serial_number,
            "ProductModelName": "Latitude 5440",
            "ManufacturerName": "Dell",
            "OwningCustomerID": None,
            "OwningCustomerName": "",
            "OwningDepartmentID": 0,
            "OwningDepartmentName": "",
            "LocationID": 0,
            "LocationName": "",
            "LocationRoomID": 0,
            "LocationRoomName": "",
            "SupportingDepartmentID": 0,
            "SupportingDepartmentName": "",
            "StatusID": 1,
            "StatusName": "In Use",
            "Attributes": [],
        } | fields
        owner = self.people.get(asset["OwningCustomerID"] or "")
        if owner and not asset["OwningCustomerName"]:
            asset["OwningCustomerName"] = owner["FullName"]
        location = self.locations.get(asset["LocationID"] or 0)
        if location and not asset["LocationName"]:
            asset["LocationName"] = location["Name"]
        self.assets[asset_id] = asset
        return self._keep("asset", asset)

    def tasks_for(self, ticket_id: int) -> list[dict[str, Any]]:
        return [task for task in self.tasks.values() if task["TicketID"] == ticket_id]

    def complete_task(self, ticket_id: int, task_id: int) -> dict[str, Any]:
        """Mark a ticket task done, as a technician would in the TDX UI."""
        task = self.get_task(ticket_id, task_id)
        self._set_percent(task, 100)
        return self._keep("task", task)

    def close_ticket(self, ticket_id: int, status_id: int = STATUS_CLOSED) -> dict[str, Any]:
        """Move a ticket to a (by default closed) status, as a technician would."""
        ticket = self.get_ticket(None, ticket_id)
        ticket["StatusID"] = status_id
        self._derive(ticket)
        return self._keep("ticket", ticket)

    # ----------------------------------------------------------------- auth
    def login(self, beid: str, key: str) -> str:
        if not (
            hmac.compare_digest(beid.lower(), self.beid.lower())
            and hmac.compare_digest(key.lower(), self.web_services_key.lower())
        ):
            raise HTTPException(401, "Invalid BEID or web services key.")
        issued = _now()
        expires = issued + self.token_ttl
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {
            "iss": "TD",
            "aud": "https://www.teamdynamix.com/",
            "nbf": int(issued.timestamp()),
            "exp": int(expires.timestamp()),
            "unique_name": f"admin-{self.beid}",
            "jti": secrets.token_hex(8),
        }
        payload = _b64url(json.dumps(claims).encode())
        signature = hmac.new(self._secret, f"{header}.{payload}".encode(), hashlib.sha256)
        token = f"{header}.{payload}.{_b64url(signature.digest())}"
        self._keep_token(token, expires)
        return token

    async def require_token(self, request: Request) -> None:
        """FastAPI dependency: a valid, unexpired bearer token or 401."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expires = self._tokens.get(token.strip())
        if scheme.lower() != "bearer" or expires is None or expires <= _now():
            raise HTTPException(401, "Authorization has been denied for this request.")

    # ----------------------------------------------------------------- call handling
    async def handle(
        self,
        request: Request,
        route: str,
        call_next: Callable[[Request], Coroutine[Any, Any, Response]],
    ) -> Response:
        """Run one API call through faults, the rate limiter and the endpoint; log it."""
        at = _now()
        status = 499  # stays so only if the caller went away and the task was cancelled
        self.in_flight += 1
        try:
            response = await self._answer(request, route, call_next)
            status = response.status_code
            return response
        finally:
            self.in_flight -= 1
            self.calls.append(TdxCall(request.method, request.url.path, route, status, at))

    async def _answer(
        self,
        request: Request,
        route: str,
        call_next: Callable[[Request], Coroutine[Any, Any, Response]],
    ) -> Response:
        method_key = f"{request.method} {route}"
        fault = self._take_fault(request.method, request.url.path)
        if fault is not None and isinstance(fault.status, str):  # "timeout": slow, then answer
            await request.body()  # read now: once the caller gives up, it can no longer be read
            await asyncio.sleep(fault.delay)
        elif fault is not None and fault.status == 429:
            ahead = self.limiter.window_seconds if fault.reset_after is None else fault.reset_after
            reset_at = time.time() + ahead
            headers = limit_headers(self.limiter.limit_for(method_key), 0, reset_at)
            return _error(429, "Simulated rate limit.", headers)
        elif fault is not None and not fault.after_work:
            return _error(fault.status, "Simulated server failure.")
        client = request.client.host if request.client else "unknown"
        decision = self.limiter.hit(method_key, client)
        if not decision.allowed:
            return _error(429, "Rate limit exceeded for this method.", decision.headers)
        try:
            response = await call_next(request)
        except HTTPException as exc:
            response = _error(exc.status_code, str(exc.detail))
        except RequestValidationError as exc:
            response = _error(400, f"Invalid request: {exc.errors()}")
        response.headers.update(decision.headers)
        if fault is not None and fault.after_work and isinstance(fault.status, int):
            return _error(fault.status, "Simulated gateway failure.")
        return response

    def _take_fault(self, method: str, path: str) -> TdxFault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                if fault.chance < 1 and self.random.random() >= fault.chance:
                    continue  # spared: later rules may still apply
                self.injected[str(fault.status)] += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    # ----------------------------------------------------------------- tickets
    def _next_id(self) -> int:
        """The next ID of any record: one counter for tickets, tasks, feeds, assets and
        locations, kept in the file, so no two records ever share an ID, across restarts."""
        return 100_000 + self.store.next_id("id")

    def _given_or_next_id(self, given: int | None) -> int:
        """A seeded record's own ID, numbering on after it; or the next ID."""
        if not given:
            return self._next_id()
        self.store.skip_to("id", int(given) - 100_000)
        return int(given)

    def get_ticket(self, app_id: int | None, ticket_id: int) -> dict[str, Any]:
        ticket = self.tickets.get(ticket_id)
        if ticket is None or (app_id is not None and ticket["AppID"] != app_id):
            raise HTTPException(404, f"Ticket {ticket_id} was not found.")
        return ticket

    def get_task(self, ticket_id: int, task_id: int) -> dict[str, Any]:
        task = self.tasks.get(task_id)
        if task is None or task["TicketID"] != ticket_id:
            raise HTTPException(404, f"Task {task_id} was not found on ticket {ticket_id}.")
        return task

    def _editable(self, body: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in _TICKET_REQUIRED if not body.get(name)]
        if missing:
            raise HTTPException(400, f"Missing required ticket fields: {', '.join(missing)}.")
        if body["StatusID"] not in STATUSES:
            raise HTTPException(400, f"Invalid StatusID {body['StatusID']}.")
        return {name: body.get(name, default) for name, default in _TICKET_EDITABLE.items()}

    def _derive(self, ticket: dict[str, Any]) -> None:
        """Recompute the read-only fields TDX derives from the editable ones."""
        name, status_class = STATUSES[ticket["StatusID"]]
        was_finished = ticket.get("StatusClass") in FINISHED_CLASSES
        ticket["StatusName"] = name
        ticket["StatusClass"] = status_class
        if status_class in FINISHED_CLASSES and not was_finished:
            ticket["CompletedDate"] = _iso(_now())
        elif status_class not in FINISHED_CLASSES:
            ticket["CompletedDate"] = None
        person = self.people.get(ticket["RequestorUid"] or "")
        ticket["RequestorName"] = person["FullName"] if person else ""
        ticket["RequestorEmail"] = person["PrimaryEmail"] if person else ""
        location = self.locations.get(ticket["LocationID"] or 0)
        ticket["LocationName"] = location["Name"] if location else ""
        rooms = location["Rooms"] if location else []
        ticket["LocationRoomName"] = next(
            (room["Name"] for room in rooms if room["ID"] == ticket["LocationRoomID"]), ""
        )
        ticket["ModifiedDate"] = _iso(_now())

    @staticmethod
    def _attributes(raw: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        return [
            {
                "ID": int(item["ID"]),
                "Name": item.get("Name", f"Attribute {item['ID']}"),
                "Value": item.get("Value"),
                "ValueText": item.get("ValueText", item.get("Value")),
            }
            for item in raw or []
        ]

    def create_ticket(self, app_id: int, body: dict[str, Any]) -> dict[str, Any]:
        ticket_id = self._next_id()
        ticket: dict[str, Any] = {"ID": ticket_id, "AppID": app_id, **self._editable(body)}
        classification = body.get("Classification", SERVICE_REQUEST)
        if classification not in TICKET_CLASSES or isinstance(classification, bool):
            raise HTTPException(400, f"Invalid Classification {classification!r}.")
        ticket["Classification"] = classification  # settable on creation only
        ticket["ClassificationName"] = TICKET_CLASSES[classification]
        ticket["Attributes"] = self._attributes(body.get("Attributes"))
        ticket["CreatedDate"] = _iso(_now())
        ticket["Uri"] = f"api/{app_id}/tickets/{ticket_id}"
        self._derive(ticket)
        self.tickets[ticket_id] = ticket
        self.feed[ticket_id] = []
        return self._keep("ticket", ticket)

    def edit_ticket(self, app_id: int, ticket_id: int, body: dict[str, Any]) -> dict[str, Any]:
        ticket = self.get_ticket(app_id, ticket_id)
        ticket.update(self._editable(body))
        ticket["Attributes"] = self._attributes(body.get("Attributes"))
        self._derive(ticket)
        return self._keep("ticket", ticket)

    def patch_ticket(
        self, app_id: int, ticket_id: int, operations: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Apply a TDX-flavoured JSON Patch: case-insensitive names, attributes by ID."""
        ticket = self.get_ticket(app_id, ticket_id)
        updated = dict(ticket)
        attributes = {item["ID"]: item for item in self._attributes(ticket["Attributes"])}
        by_lower = {name.lower(): name for name in _TICKET_EDITABLE}
        for operation in operations:
            op = str(operation.get("op", "")).lower()
            parts = str(operation.get("path", "")).strip("/").split("/")
            if op not in ("add", "replace", "remove"):
                raise HTTPException(400, f"Unsupported patch operation {op!r}.")
            value = None if op == "remove" else operation.get("value")
            if len(parts) == 2 and parts[0].lower() == "attributes" and parts[1].isdigit():
                attribute_id = int(parts[1])
                if value is None:
                    attributes.pop(attribute_id, None)
                else:
                    attributes[attribute_id] = self._attributes(
                        [{"ID": attribute_id, "Value": value}]
                    )[0]
            elif len(parts) == 1 and parts[0].lower() in by_lower:
                name = by_lower[parts[0].lower()]
                updated[name] = _TICKET_EDITABLE[name] if value is None else value
            else:
                raise HTTPException(400, f"Unknown patch path {operation.get('path')!r}.")
        if updated["StatusID"] not in STATUSES:
            raise HTTPException(400, f"Invalid StatusID {updated['StatusID']}.")
        ticket.update(updated)
        ticket["Attributes"] = list(attributes.values())
        self._derive(ticket)
        return self._keep("ticket", ticket)

    def _feed_entry(
        self, item_id: int, title: str, body: dict[str, Any], update_type: str
    ) -> dict[str, Any]:
        stamp = _iso(_now())
        return {
            "ID": self._next_id(),
            "ItemID": item_id,
            "ItemTitle": title,
            "Body": body.get("Comments") or "",
            "UpdateType": update_type,
            "IsPrivate": bool(body.get("IsPrivate", False)),
            "IsRichHtml": bool(body.get("IsRichHtml", False)),
            "Notified": list(body.get("Notify") or []),
            "CreatedDate": stamp,
            "LastUpdatedDate": stamp,
        }

    def add_ticket_feed(self, app_id: int, ticket_id: int, body: dict[str, Any]) -> dict[str, Any]:
        ticket = self.get_ticket(app_id, ticket_id)
        new_status = body.get("NewStatusID") or 0
        if not body.get("Comments") and not new_status:
            raise HTTPException(400, "Comments or NewStatusID is required.")
        if new_status and new_status not in STATUSES:
            raise HTTPException(400, f"Invalid NewStatusID {new_status}.")
        if new_status:
            ticket["StatusID"] = new_status
            self._derive(ticket)
            self._keep("ticket", ticket)
        kind = "StatusChange" if new_status else "Comment"
        entry = self._feed_entry(ticket_id, ticket["Title"], body, kind)
        self.feed[ticket_id].append(entry)
        return self._keep("ticket_feed", entry)

    def search_tickets(self, app_id: int, body: dict[str, Any]) -> list[dict[str, Any]]:
        text = str(body.get("SearchText") or "").lower()
        status_ids = body.get("StatusIDs")
        found = [
            ticket
            for ticket in sorted(self.tickets.values(), key=lambda t: t["ID"], reverse=True)
            if ticket["AppID"] == app_id
            and (text in ticket["Title"].lower() or text in (ticket["Description"] or "").lower())
            and (not status_ids or ticket["StatusID"] in status_ids)
        ]
        max_results = body.get("MaxResults")
        return found[:max_results] if max_results else found

    # ----------------------------------------------------------------- tasks
    def create_task(self, app_id: int, ticket_id: int, body: dict[str, Any]) -> dict[str, Any]:
        self.get_ticket(app_id, ticket_id)
        if not body.get("Title"):
            raise HTTPException(400, "Title is required.")
        task_id = self._next_id()
        stamp = _iso(_now())
        task: dict[str, Any] = {
            "ID": task_id,
            "TicketID": ticket_id,
            "AppID": app_id,
            **{name: body.get(name, default) for name, default in _TASK_EDITABLE.items()},
            "IsActive": True,
            "ActualMinutes": 0,
            "PercentComplete": 0,
            "CreatedDate": stamp,
            "ModifiedDate": stamp,
            "CompletedDate": None,
        }
        self.tasks[task_id] = task
        self.task_feed[task_id] = []
        return self._keep("task", task)

    def edit_task(
        self, app_id: int, ticket_id: int, task_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        self.get_ticket(app_id, ticket_id)
        task = self.get_task(ticket_id, task_id)
        if not body.get("Title"):
            raise HTTPException(400, "Title is required.")
        task.update({name: body.get(name, default) for name, default in _TASK_EDITABLE.items()})
        task["ModifiedDate"] = _iso(_now())
        return self._keep("task", task)

    @staticmethod
    def _set_percent(task: dict[str, Any], percent: int) -> None:
        task["PercentComplete"] = percent
        task["CompletedDate"] = (task["CompletedDate"] or _iso(_now())) if percent >= 100 else None
        task["ModifiedDate"] = _iso(_now())

    def add_task_feed(
        self, app_id: int, ticket_id: int, task_id: int, body: dict[str, Any]
    ) -> dict[str, Any]:
        self.get_ticket(app_id, ticket_id)
        task = self.get_task(ticket_id, task_id)
        percent = body.get("PercentComplete")
        if percent is None and not body.get("Comments"):
            raise HTTPException(400, "PercentComplete or Comments is required.")
        if percent is not None:
            if not 0 <= int(percent) <= 100:
                raise HTTPException(400, "PercentComplete must be between 0 and 100.")
            self._set_percent(task, int(percent))
            self._keep("task", task)
        entry = self._feed_entry(task_id, task["Title"], body, "Comment")
        self.task_feed[task_id].append(entry)
        return self._keep("task_feed", entry)

    # ----------------------------------------------------------------- reference data
    def search_assets(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """`SerialLike` is a LIKE match on serial number or tag; `SearchText` on the names."""
        serial = str(body.get("SerialLike") or "").lower()
        text = str(body.get("SearchText") or "").lower()
        text_fields = ("SerialNumber", "Tag", "Name", "ProductModelName", "ManufacturerName")

        def matches(asset: dict[str, Any]) -> bool:
            serial_ok = serial in asset["SerialNumber"].lower() or serial in asset["Tag"].lower()
            text_ok = any(text in str(asset[name]).lower() for name in text_fields)
            return serial_ok and text_ok

        found = [asset for asset in self.assets.values() if matches(asset)]
        max_results = body.get("MaxResults")
        return found[:max_results] if max_results else found

    def get_asset(self, asset_id: int) -> dict[str, Any]:
        if asset_id not in self.assets:
            raise HTTPException(404, f"Asset {asset_id} was not found.")
        return self.assets[asset_id]

    def get_person(self, uid: str) -> dict[str, Any]:
        if uid not in self.people:
            raise HTTPException(404, f"Person {uid} was not found.")
        return self.people[uid]

    def get_location(self, location_id: int) -> dict[str, Any]:
        if location_id not in self.locations:
            raise HTTPException(404, f"Location {location_id} was not found.")
        return self.locations[location_id]


def _route_class(sim: TdxSim) -> type[APIRoute]:
    """A route class that sends every API call through `TdxSim.handle` with its template.

    Rate limits are per method, that is per verb and route template, so the template (known
    only once the route matched) is what the limiter keys on.
    """

    class TdxRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            endpoint_handler = super().get_route_handler()
            template = self.path

            async def handler(request: Request) -> Response:
                return await sim.handle(request, template, endpoint_handler)

            return handler

    return TdxRoute


Json = dict[str, Any]
JsonBody = Annotated[Json, Body()]
PatchBody = Annotated[list[Json], Body()]


def build_router(sim: TdxSim) -> APIRouter:
    """The API under `/TDWebApi/api` and the test controls under `/_sim/tdx`."""
    router = APIRouter()
    auth = APIRouter(prefix=API_PREFIX, route_class=_route_class(sim))
    api = APIRouter(
        prefix=API_PREFIX, route_class=_route_class(sim), dependencies=[Depends(sim.require_token)]
    )

    @auth.post("/auth/loginadmin", response_class=PlainTextResponse)
    async def login_admin(body: JsonBody) -> str:
        return sim.login(str(body.get("BEID", "")), str(body.get("WebServicesKey", "")))

    @api.post("/{app_id}/tickets/search")
    async def search_tickets(app_id: int, body: JsonBody) -> list[Json]:
        return sim.search_tickets(app_id, body)

    @api.post("/{app_id}/tickets")
    async def create_ticket(app_id: int, body: JsonBody) -> Json:
        return sim.create_ticket(app_id, body)

    @api.get("/{app_id}/tickets/{ticket_id}")
    async def get_ticket(app_id: int, ticket_id: int) -> Json:
        return sim.get_ticket(app_id, ticket_id)

    @api.post("/{app_id}/tickets/{ticket_id}")
    async def edit_ticket(app_id: int, ticket_id: int, body: JsonBody) -> Json:
        return sim.edit_ticket(app_id, ticket_id, body)

    @api.patch("/{app_id}/tickets/{ticket_id}")
    async def patch_ticket(
        app_id: int,
        ticket_id: int,
        operations: PatchBody,
    ) -> Json:
        return sim.patch_ticket(app_id, ticket_id, operations)

    @api.post("/{app_id}/tickets/{ticket_id}/feed")
    async def ticket_feed(app_id: int, ticket_id: int, body: JsonBody) -> Json:
        return sim.add_ticket_feed(app_id, ticket_id, body)

    @api.get("/{app_id}/tickets/{ticket_id}/tasks")
    async def list_tasks(app_id: int, ticket_id: int) -> list[Json]:
        sim.get_ticket(app_id, ticket_id)
        return sim.tasks_for(ticket_id)

    @api.post("/{app_id}/tickets/{ticket_id}/tasks")
    async def create_task(app_id: int, ticket_id: int, body: JsonBody) -> Json:
        return sim.create_task(app_id, ticket_id, body)

    @api.get("/{app_id}/tickets/{ticket_id}/tasks/{task_id}")
    async def get_task(app_id: int, ticket_id: int, task_id: int) -> Json:
        sim.get_ticket(app_id, ticket_id)
        return sim.get_task(ticket_id, task_id)

    @api.put("/{app_id}/tickets/{ticket_id}/tasks/{task_id}")
    async def edit_task(
        app_id: int,
        ticket_id: int,
        task_id: int,
        body: JsonBody,
    ) -> Json:
        return sim.edit_task(app_id, ticket_id, task_id, body)

    @api.post("/{app_id}/tickets/{ticket_id}/tasks/{task_id}/feed")
    async def task_feed(
        app_id: int,
        ticket_id: int,
        task_id: int,
        body: JsonBody,
    ) -> Json:
        return sim.add_task_feed(app_id, ticket_id, task_id, body)

    @api.post("/{app_id}/assets/search")
    async def search_assets(app_id: int, body: JsonBody) -> list[Json]:
        return sim.search_assets(body)

    @api.get("/{app_id}/assets/{asset_id}")
    async def get_asset(app_id: int, asset_id: int) -> Json:
        return sim.get_asset(asset_id)

    @api.get("/people/{uid}")
    async def get_person(uid: str) -> Json:
        return sim.get_person(uid)

    @api.get("/locations/{location_id}")
    async def get_location(location_id: int) -> Json:
        return sim.get_location(location_id)

    router.include_router(auth)
    router.include_router(api)
    router.include_router(_control_router(sim))
    return router


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_seconds: float | None = None
    limit: int | None = None
    create_limit: int | None = None


def _control_router(sim: TdxSim) -> APIRouter:
    """Seeding, fault injection and inspection for tests and demos; no auth, no limits."""
    control = APIRouter(prefix=CONTROL_PREFIX, tags=["sim: tdx"])

    @control.post("/people")
    async def seed_person(body: JsonBody) -> Json:
        if not body.get("UserName"):
            raise HTTPException(400, "UserName is required.")
        return sim.add_person(body.pop("UserName"), **body)

    @control.post("/locations")
    async def seed_location(body: JsonBody) -> Json:
        if not body.get("Name"):
            raise HTTPException(400, "Name is required.")
        return sim.add_location(body.pop("Name"), **body)

    @control.post("/assets")
    async def seed_asset(body: JsonBody) -> Json:
        if not body.get("SerialNumber"):
            raise HTTPException(400, "SerialNumber is required.")
        return sim.add_asset(body.pop("SerialNumber"), **body)

    @control.get("/tickets")
    async def all_tickets() -> list[Json]:
        return [
            ticket | {"Tasks": sim.tasks_for(ticket_id), "Feed": sim.feed[ticket_id]}
            for ticket_id, ticket in sim.tickets.items()
        ]

    @control.post("/tickets/{ticket_id}/tasks/{task_id}/complete")
    async def complete_task(ticket_id: int, task_id: int) -> Json:
        return sim.complete_task(ticket_id, task_id)

    @control.post("/tickets/{ticket_id}/close")
    async def close_ticket(ticket_id: int, status_id: int = STATUS_CLOSED) -> Json:
        if status_id not in STATUSES:
            raise HTTPException(400, f"Unknown status {status_id}.")
        return sim.close_ticket(ticket_id, status_id)

    @control.post("/faults")
    async def add_fault(fault: TdxFault) -> TdxFault:
        sim.faults.append(fault)
        return fault

    @control.delete("/faults")
    async def clear_faults() -> Response:
        sim.clear_faults()
        return Response(status_code=204)

    @control.get("/calls")
    async def calls() -> list[Json]:
        return [call.to_json() for call in sim.calls]

    @control.post("/limits")
    async def limits(body: _Limits) -> Response:
        sim.configure_limits(**body.model_dump())
        return Response(status_code=204)

    @control.post("/reset")
    async def reset() -> Response:
        sim.reset()
        return Response(status_code=204)

    return control
