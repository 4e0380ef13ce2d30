"""TDX's rate windows as every worker sees them, so calls are held back instead of earning 429s.

TDX counts each method's calls per calling address in a fixed window, and every answer of a
limited method says how many calls are left (`X-RateLimit-Remaining`) and when the window
ends (`X-RateLimit-Reset`). Worker processes reaching TDX from one address share that count,
so they share one count of their own in the app database (`store.tdx_windows`): a call is
sent only once the shared count has room, and each answer's headers correct it. When a
window is used up the call waits for its end: a short wait in place, a long one handed back
to Temporal as a retry at the reset (`WindowFull`), since an activity must not sit on its
worker slot for a minute.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store import tdx_windows

log = logging.getLogger(__name__)

_ID_SEGMENT = re.compile(r"[^/]*\d[^/]*")


def method_key(verb: str, path: str) -> str:
    """TDX's unit of limiting: the verb and the route, ids left out (`POST {}/tickets`)."""
    return f"{verb.upper()} {_ID_SEGMENT.sub('{}', path.strip('/'))}"


class WindowFull(Exception):
    """This method's window is used up until `reset_at`; nothing was sent."""

    def __init__(self, reset_at: datetime) -> None:
        super().__init__(f"TDX rate window full until {reset_at.isoformat()}")
        self.reset_at = reset_at


class RateWindows:
    """Per-method gates on the shared count; `max_wait` is the longest in-place wait.

    `X-RateLimit-Reset` has whole-second precision and is rounded up, which would cost up to
    a second per window. When an answer is its window's first call (it leaves `Limit - 1`),
    the window began before that answer arrived, so it ends no later than `window_seconds`
    after it, and that moment is used when it is earlier. `guard_seconds` is the end of each
    window in which nothing is sent (see `store.tdx_windows`).
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        window_seconds: float = 60.0,
        guard_seconds: float = 1.0,
        max_wait: float = 5.0,
    ) -> None:
        self.sessions = sessions
        self.window_seconds = window_seconds
        self.guard_seconds = guard_seconds
        self.max_wait = max_wait

    def _take(self, key: str) -> int | float:
        with self.sessions.begin() as db:
            return tdx_windows.take(db, key, time.time(), self.window_seconds, self.guard_seconds)

    async def acquire(self, key: str) -> int:
        """Take one call of `key`'s window, waiting for the next window if none is left.

        Returns the window's number, for `observe`.
        """
        waited = 0.0
        while True:
            taken = await asyncio.to_thread(self._take, key)
            if isinstance(taken, int):
                return taken
            wait = max(taken - time.time(), 0.0)
            if waited + wait > self.max_wait:
                raise WindowFull(datetime.fromtimestamp(taken, UTC))
            await asyncio.sleep(wait)
            waited += wait

    def _observe(self, key: str, window_no: int, headers: tuple[int, int, float] | None) -> None:
        try:
            with self.sessions.begin() as db:
                tdx_windows.answered(db, key, window_no)
                if headers is not None:
                    tdx_windows.observe(db, key, *headers, self.window_seconds)
        except SQLAlchemyError as e:
            # The answer matters more than the count: the call stays counted as unanswered
            # (carried into the next window), which errs on the side of fewer calls.
            log.warning("TDX rate window not updated after %s: %s", key, type(e).__name__)

    async def observe(self, key: str, window_no: int, response: httpx.Response) -> None:
        """The answer to a call granted in `window_no`: learn the window from its headers.

        An answer from a window that has already ended tells nothing of the current one.
        """
        answered = time.time()
        headers: tuple[int, int, float] | None = None
        try:
            limit = int(response.headers["X-RateLimit-Limit"])
            remaining = int(response.headers["X-RateLimit-Remaining"])
            reset_at = parsedate_to_datetime(response.headers["X-RateLimit-Reset"]).timestamp()
        except (KeyError, TypeError, ValueError):
            pass
        else:
            if remaining == limit - 1 and response.status_code != 429:
                reset_at = min(reset_at, answered + self.window_seconds)
            if reset_at > answered:
                headers = (limit, remaining, reset_at)
        await asyncio.to_thread(self._observe, key, window_no, headers)
