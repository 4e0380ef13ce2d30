"""What the stand-ins share: a SQLite document store that survives a restart (every stand-in
keeps its records in one), and, for HaloPSA and ServiceNow, injected faults and an outbound
webhook sender that retries and can lose deliveries.

The two products differ in paths, auth and JSON, which live in `sim.halo` and
`sim.servicenow`; both keep records in SQLite (`path=":memory:"` for throwaway tests, a file
for `make run`, so tickets logged by hand are still there after a restart), answer injected
faults before the real endpoint (429 with `Retry-After`, 5xx, slow answers), and deliver
webhooks the way the products do: POSTed from a background task, retried with backoff when
the receiver fails, and dropped on request (`lose_next_deliveries`) to prove the catch-up.
Both also limit the rate of API calls as the products do (`RateLimit`): off in tests unless
a test turns it on, on at the products' levels in `python -m sim` (so in `deskflow dev`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import re
import sqlite3
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class DocStore:
    """JSON documents by (kind, id) in one SQLite file; thread-safe, one connection."""

    def __init__(self, path: str = ":memory:") -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=wal")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS doc (kind TEXT, id TEXT, body TEXT, "
                "PRIMARY KEY (kind, id))"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS counter (kind TEXT PRIMARY KEY, n INT)")

    def put(self, kind: str, doc_id: str | int, body: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO doc VALUES (?, ?, ?)", (kind, str(doc_id), json.dumps(body))
            )

    def delete(self, kind: str, doc_id: str | int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM doc WHERE kind = ? AND id = ?", (kind, str(doc_id)))

    def get(self, kind: str, doc_id: str | int) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM doc WHERE kind = ? AND id = ?", (kind, str(doc_id))
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def all(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM doc WHERE kind = ?", (kind,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def find(self, kind: str, field: str, value: str) -> list[dict[str, Any]]:
        """Documents whose top-level `field` equals `value` (SQLite reads the JSON, so a
        lookup by number does not decode every record of the table in Python)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM doc WHERE kind = ? AND json_extract(body, ?) = ?",
                (kind, f'$."{field}"', value),
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def next_id(self, kind: str, start: int = 1) -> int:
        with self._lock:
            row = self._db.execute("SELECT n FROM counter WHERE kind = ?", (kind,)).fetchone()
            n = (row[0] if row else start - 1) + 1
            self._db.execute("INSERT OR REPLACE INTO counter VALUES (?, ?)", (kind, n))
        return n

    def skip_to(self, kind: str, n: int) -> None:
        """Number the next `kind` after `n` (as a long-lived instance would), so records made
        after a `clear` do not reuse the numbers of records made before it."""
        with self._lock:
            self._db.execute(
                "INSERT INTO counter VALUES (?, ?) ON CONFLICT(kind) DO UPDATE SET n = max(n, ?)",
                (kind, n, n),
            )

    def delete_kind(self, kind: str) -> None:
        """Forget every record of one kind (numbering goes on, as in `clear`)."""
        with self._lock:
            self._db.execute("DELETE FROM doc WHERE kind = ?", (kind,))

    def clear(self) -> None:
        """Forget every record; numbering goes on, as in a product whose data was purged
        (a new ticket never reuses a number deskflow may have seen)."""
        with self._lock:
            self._db.execute("DELETE FROM doc")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Fault(BaseModel):
    """The next `count` calls matching `method` and `path` (a regex) misbehave: `status`
    429 (with `Retry-After: retry_after`), a 5xx, or "timeout" (sleep `delay`, then answer).
    With `share` below 1, only that share of the matching calls (drawn at random) misbehave,
    as a flaky instance does; `count: null` keeps the fault until `clear`."""

    model_config = ConfigDict(extra="forbid")

    method: str = "*"
    path: str = ".*"
    status: int | Literal["timeout"] = 500
    count: int | None = 1
    delay: float = 5.0
    retry_after: int = 1
    share: float = Field(1.0, gt=0, le=1)

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method.upper()) and re.search(self.path, path) is not None


class Faults:
    def __init__(self) -> None:
        self.rules: list[Fault] = []

    def add(self, **kwargs: Any) -> Fault:
        fault = Fault(**kwargs)
        self.rules.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.rules:
            if fault.matches(method, path):
                if fault.share < 1 and random.random() >= fault.share:
                    return None
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.rules.remove(fault)
                return fault
        return None

    async def answer(self, request: Request, error: Callable[[int, str], Response]):
        """An injected answer for this request, or None to let the endpoint answer."""
        fault = self.take(request.method, request.url.path)
        if fault is None:
            return None
        if fault.status == "timeout":
            await request.body()
            await asyncio.sleep(fault.delay)
            return None
        response = error(fault.status, "Simulated failure.")
        if fault.status == 429:
            response.headers["Retry-After"] = str(fault.retry_after)
        return response


@dataclass(frozen=True)
class Verdict:
    """One call against a rate limit: allowed or not, and the figures a product reports."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # UNIX time at which the window frees a call (ServiceNow X-RateLimit-Reset)
    retry_after: int = 0  # seconds to wait when refused (Retry-After)


class RateLimit:
    """`calls` per `per_seconds` for each caller; `calls=None` is no limit.

    `rolling=True` counts the last `per_seconds` at every call (Halo's hosted API: a number of
    requests per rolling 5-minute window); `rolling=False` counts fixed windows aligned on the
    clock (ServiceNow's rate-limit rules count per hour and reset on the hour). Real time, not
    the stand-in's `clock`: tests move that one to Temporal's, but traffic happens now.
    """

    def __init__(
        self,
        calls: int | None = None,
        per_seconds: float = 60.0,
        *,
        rolling: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rolling = rolling
        self._clock = clock
        self.refused = 0
        self.set(calls, per_seconds)

    def set(self, calls: int | None, per_seconds: float = 60.0) -> None:
        self.calls, self.per_seconds = calls, per_seconds
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._windows: dict[str, tuple[float, int]] = {}

    def take(self, who: str = "") -> Verdict | None:
        """Count one call by `who`; None when no limit is set."""
        if self.calls is None:
            return None
        now, limit, span = self._clock(), self.calls, self.per_seconds
        if self.rolling:
            recent = self._recent[who]
            while recent and recent[0] <= now - span:
                recent.popleft()
            if len(recent) >= limit:
                self.refused += 1
                frees = recent[0] + span
                return Verdict(False, limit, 0, frees, max(1, math.ceil(frees - now)))
            recent.append(now)
            return Verdict(True, limit, limit - len(recent), recent[0] + span)
        start = now - now % span
        began, used = self._windows.get(who, (start, 0))
        used = used if began == start else 0
        reset = start + span
        if used >= limit:
            self.refused += 1
            return Verdict(False, limit, 0, reset, max(1, math.ceil(reset - now)))
        self._windows[who] = (start, used + 1)
        return Verdict(True, limit, limit - used - 1, reset)


def json_error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


@dataclass
class Delivery:
    """One webhook POST the stand-in made or will make."""

    id: str
    body: dict[str, Any]
    attempts: int = 0
    statuses: list[int] = field(default_factory=list)
    lost: bool = False
    delivered: bool = False


class WebhookSender:
    """POSTs deliveries to the configured URL in order, retrying failures with backoff.

    `auth` is how the product was configured to authenticate: ("basic", "user:pass"),
    ("bearer", token) or ("apikey", "Header-Name:value"). `lose_next(n)` drops the next n
    deliveries silently, as a product that gave up or a network that ate them.
    """

    def __init__(self, retries: int = 5, backoff: float = 0.2) -> None:
        self.url: str | None = None
        self.auth: tuple[str, str] | None = None
        self.retries = retries
        self.backoff = backoff
        self.log: list[Delivery] = []
        self._lose = 0
        self._queue: asyncio.Queue[Delivery] | None = None
        self._task: asyncio.Task[None] | None = None
        self.paused = False

    def configure(self, url: str | None, auth: tuple[str, str] | None) -> None:
        self.url, self.auth = url, auth

    def lose_next(self, n: int = 1) -> None:
        self._lose += n

    def headers(self) -> dict[str, str]:
        if self.auth is None:
            return {}
        kind, value = self.auth
        if kind == "basic":
            import base64

            return {"Authorization": "Basic " + base64.b64encode(value.encode()).decode()}
        if kind == "bearer":
            return {"Authorization": f"Bearer {value}"}
        name, _, secret = value.partition(":")
        return {name: secret}

    def send(self, body: dict[str, Any]) -> Delivery:
        delivery = Delivery(id=str(uuid.uuid4()), body=body)
        self.log.append(delivery)
        if self._lose:
            self._lose -= 1
            delivery.lost = True
            return delivery
        if self.url is None:
            return delivery
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._queue.put_nowait(delivery)
        return delivery

    def resend(self, delivery_id: str) -> Delivery:
        """Deliver an earlier delivery again, as the product does after an unclear answer."""
        old = next(d for d in self.log if d.id == delivery_id)
        again = Delivery(id=old.id, body=old.body)
        self.log.append(again)
        assert self._queue is not None
        self._queue.put_nowait(again)
        return again

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every queued delivery was attempted to the end."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self._queue is not None and (self._queue.qsize() or self._busy):
            if loop.time() > end:
                raise TimeoutError("webhook deliveries still pending")
            await asyncio.sleep(0.02)

    _busy = False

    async def _run(self) -> None:
        assert self._queue is not None
        async with httpx.AsyncClient(timeout=10.0) as http:
            while True:
                delivery = await self._queue.get()
                self._busy = True
                try:
                    await self._deliver(http, delivery)
                finally:
                    self._busy = False

    async def _deliver(self, http: httpx.AsyncClient, delivery: Delivery) -> None:
        for attempt in range(self.retries):
            delivery.attempts += 1
            try:
                r = await http.post(
                    self.url or "",
                    json=delivery.body,
                    headers={**self.headers(), "X-Delivery-Id": delivery.id},
                )
                delivery.statuses.append(r.status_code)
                if r.status_code < 500 and r.status_code != 429:
                    delivery.delivered = r.status_code < 300
                    return
            except httpx.HTTPError:
                delivery.statuses.append(0)
            await asyncio.sleep(self.backoff * 2**attempt)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        self._queue = None


@contextlib.contextmanager
def frozen_clock(sim: Any, moment: datetime) -> Iterator[None]:
    """Run stand-in actions as if at `moment` (tests align it with Temporal's test clock)."""
    before = sim.clock
    sim.clock = lambda: moment
    try:
        yield
    finally:
        sim.clock = before
