"""Slow down password guessing: a few wrong passwords per account and per client address.

Sliding windows of failed sign-ins, kept in the web process: once an account (or an address)
has had its allowance of failures in the window, every sign-in for it is refused, the right
password included, until the oldest of those failures leaves the window; the refusal says
when ("try again in N s", HTTP 429 with Retry-After). A success clears the account's count,
not the address's. Run several web processes and each keeps its own count: the limits then
multiply by the number of processes, still far from the thousands of tries a guesser needs.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    failures: int
    window_s: float


ACCOUNT_LIMIT = Limit(failures=5, window_s=300)
ADDRESS_LIMIT = Limit(failures=20, window_s=300)
MAX_KEYS = 100_000  # memory bound: oldest keys are forgotten first


class LoginThrottle:
    def __init__(
        self,
        account: Limit = ACCOUNT_LIMIT,
        address: Limit = ADDRESS_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"account": account, "address": address}
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _keys(self, username: str, address: str | None) -> list[tuple[str, str]]:
        return [("account", username.strip().lower()), ("address", address or "unknown")]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        found = self._failures.get(key)
        if found is None:
            return deque()
        window = self.limits[key[0]].window_s
        while found and found[0] <= now - window:
            found.popleft()
        if not found:
            del self._failures[key]
        return found

    def wait_seconds(self, username: str, address: str | None) -> int:
        """0 if a sign-in may be tried now, else the whole seconds until it may."""
        now = self.clock()
        wait = 0.0
        for key in self._keys(username, address):
            limit = self.limits[key[0]]
            recent = self._recent(key, now)
            if len(recent) >= limit.failures:
                wait = max(wait, recent[-limit.failures] + limit.window_s - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str, address: str | None) -> None:
        now = self.clock()
        for key in self._keys(username, address):
            self._recent(key, now)
            if key not in self._failures and len(self._failures) >= MAX_KEYS:
                self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        self._failures.pop(self._keys(username, None)[0], None)
