"""What this process knows of TDX's rate windows, so it holds calls back instead of earning 429s.

TDX counts each method's calls per calling address in a fixed window, and every answer of a
limited method says how many calls are left (`X-RateLimit-Remaining`) and when the window
ends (`X-RateLimit-Reset`). The task queues already pace activities at just under each
limit, but the Temporal server's rate limiter lets short bursts through, and a burst at the
end of a window can overrun TDX's count. So the client keeps, per method, the last answer's
count (less the calls it has sent since) and makes the next call wait for the window's end
when nothing is left: a short wait in place, a long one handed back to Temporal as a retry
at the reset (`WindowFull`), since an activity must not sit on its worker slot for a minute.
Processes on one host share TDX's count and read it from the same headers.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

_ID_SEGMENT = re.compile(r"[^/]*\d[^/]*")


def method_key(verb: str, path: str) -> str:
    """TDX's unit of limiting: the verb and the route, ids left out (`POST {}/tickets`)."""
    return f"{verb.upper()} {_ID_SEGMENT.sub('{}', path.strip('/'))}"


class WindowFull(Exception):
    """This method's window is used up until `reset_at`; nothing was sent."""

    def __init__(self, reset_at: datetime) -> None:
        super().__init__(f"TDX rate window full until {reset_at.isoformat()}")
        self.reset_at = reset_at


@dataclass
class _Window:
    limit: int
    remaining: int  # calls this process may still send in the window
    reset_at: float  # epoch seconds; infinity until an answer from the window says when


class RateWindows:
    """Per-method gates fed by TDX's rate-limit headers; `max_wait` is the longest in-place wait.

    Once a window has ended, the next one is counted from the limit before any answer
    arrives, so calls held for a reset do not all rush into the new window at once.
    `X-RateLimit-Reset` has whole-second precision and is rounded up, which would cost up to
    a second per window. When this process made a window's first call (the answer leaves
    `Limit - 1`), it knows better: the window began before that answer arrived, so it ends
    no later than `window_seconds` after it, and that moment is used when it is earlier.
    """

    def __init__(self, window_seconds: float = 60.0, max_wait: float = 5.0) -> None:
        self.window_seconds = window_seconds
        self.max_wait = max_wait
        self._windows: dict[str, _Window] = {}

    async def acquire(self, key: str) -> None:
        """Take one call of `key`'s window, waiting for the next window if none is left."""
        waited = 0.0
        while True:
            window = self._windows.get(key)
            if window is None:
                return  # nothing known yet: the answer will tell
            now = time.time()
            if now >= window.reset_at:
                window = self._windows[key] = _Window(window.limit, window.limit, math.inf)
            if window.remaining > 0:
                window.remaining -= 1
                return
            # Used up: wait for its end, or, while its end is unknown, for an answer.
            wait = window.reset_at - now if window.reset_at < math.inf else 0.05
            if waited + wait > self.max_wait:
                until = window.reset_at if window.reset_at < math.inf else now + self.max_wait
                raise WindowFull(datetime.fromtimestamp(until, UTC))
            await asyncio.sleep(wait)
            waited += wait

    def observe(self, key: str, response: httpx.Response) -> None:
        """Learn the window from an answer's headers; an answer from an ended window is ignored."""
        answered = time.time()
        try:
            limit = int(response.headers["X-RateLimit-Limit"])
            remaining = int(response.headers["X-RateLimit-Remaining"])
            reset_at = parsedate_to_datetime(response.headers["X-RateLimit-Reset"]).timestamp()
        except (KeyError, TypeError, ValueError):
            return
        if remaining == limit - 1 and response.status_code != 429:
            reset_at = min(reset_at, answered + self.window_seconds)
        if reset_at <= answered:
            return
        window = self._windows.get(key)
        # One window's ends differ by less than the header's one-second granularity; a later
        # window ends a whole window later (windows are assumed longer than 2 s).
        same = window is not None and (
            window.reset_at == math.inf or abs(window.reset_at - reset_at) < 1.0
        )
        if window is None or not same and reset_at > window.reset_at:
            self._windows[key] = _Window(limit, remaining, reset_at)
        elif same:
            window.remaining = min(window.remaining, remaining)
            window.reset_at = min(window.reset_at, reset_at)
