"""Async client for the TeamDynamix Web API, used by the TDX activities.

It logs in with the admin service account (BEID + web services key) only when first needed,
keeps the token until shortly before it expires (24 hours) and logs in again once if a call is
refused with 401, so activities never handle authentication. It does not retry anything else:
a 429 becomes `TdxRateLimited` carrying the moment TDX's rate window resets, so the activity
can hand Temporal an exact `next_retry_delay` instead of retrying blindly, and timeouts surface
as httpx exceptions for Temporal's retry policy. It reads TDX's rate-limit headers to hold a
call back while its method's window, counted for all workers together in the app database,
is used up (`tdx_rate_windows`) rather than earn a 429.
The key and the token are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import IntEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from activities import meter
from activities.http_pool import api_client
from activities.tdx_rate_windows import RateWindows, WindowFull, method_key
from domain import metrics
from store.tdx_windows import window_sessions

if TYPE_CHECKING:
    from domain.settings import Settings

log = logging.getLogger(__name__)

Json = dict[str, Any]

TOKEN_LIFETIME = timedelta(hours=24)
TOKEN_REFRESH_MARGIN = timedelta(minutes=10)
# TDX asks callers to wait at least 5 s past the advertised reset, against clock skew.
DEFAULT_MIN_RETRY_AFTER = timedelta(seconds=5)
# Used when a 429 lacks a readable X-RateLimit-Reset: TDX windows last 60 s.
FALLBACK_RETRY_AFTER = timedelta(seconds=60)


class StatusClass(IntEnum):
    """A ticket status's class, as TDX serializes it: a number beside `StatusName`."""

    NONE = 0
    NEW = 1
    IN_PROCESS = 2
    COMPLETED = 3
    CANCELLED = 4
    ON_HOLD = 5
    REQUESTED = 6


class TicketClass(IntEnum):
    """A ticket's `Classification` number, fixed across every TDX tenant."""

    INCIDENT = 32
    PROBLEM = 33
    CHANGE = 34
    RELEASE = 35
    SERVICE_REQUEST = 46
    MAJOR_INCIDENT = 77


def status_class(ticket: Mapping[str, Any]) -> StatusClass:
    """The ticket's status class; NONE when TDX sent something we do not know."""
    try:
        return StatusClass(int(ticket.get("StatusClass") or 0))
    except (TypeError, ValueError):
        return StatusClass.NONE


class TdxError(Exception):
    """TDX answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"TDX error {status}: {message}")
        self.status = status
        self.message = message


class TdxNotFound(TdxError):
    """TDX answered 404: the ticket, task, asset, person or location does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class TdxRateLimited(TdxError):
    """TDX answered 429; wait `retry_after` (until `reset_at`) before calling that method again."""

    def __init__(self, reset_at: datetime, retry_after: timedelta) -> None:
        super().__init__(429, f"rate limited until {reset_at.isoformat()}")
        self.reset_at = reset_at
        self.retry_after = retry_after


def _token_expiry(token: str, issued_at: datetime) -> datetime:
    """The token's `exp` claim, as TDX advises; 24 h after issue if it cannot be read."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (IndexError, KeyError, TypeError, ValueError, binascii.Error):
        return issued_at + TOKEN_LIFETIME


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("Message") or body.get("message") or body)[:500]
    return str(body)[:500]


_ID = re.compile(r"\d+")


def _count(verb: str, path: str, status: str) -> None:
    """Count one call for `deskflow_tdx_calls_total` (and its 429s), labelled by TDX method."""
    method = f"{verb} {_ID.sub('{id}', path)}"
    metrics.TDX_CALLS.add(meter.current(), method=method, status=status)
    if status == "429":
        metrics.TDX_RATE_LIMITED.add(meter.current(), method=method)


class TdxClient:
    """One tenant's TDX Web API: tickets and tasks in `app_id`, assets in `asset_app_id`.

    `base_url` is the TDWebApi root (e.g. `https://x.teamdynamix.com/TDWebApi/`). Share one
    instance per worker: it holds the token and a connection pool. Close with `aclose()` or
    use it as an async context manager.
    """

    def __init__(
        self,
        base_url: str,
        beid: str,
        web_services_key: str | SecretStr,
        app_id: int,
        asset_app_id: int,
        windows: RateWindows,
        *,
        timeout: float = 30.0,
        min_retry_after: timedelta = DEFAULT_MIN_RETRY_AFTER,
    ) -> None:
        self.app_id = app_id
        self.asset_app_id = asset_app_id
        self.min_retry_after = min_retry_after
        self.timeout = timeout
        self._beid = beid
        self._key = (
            web_services_key
            if isinstance(web_services_key, SecretStr)
            else SecretStr(web_services_key)
        )
        self._http = api_client(
            base_url.rstrip("/") + "/api/",
            timeout=timeout,
            headers={"Accept": "application/json"},
        )
        self._token: str | None = None
        self._token_expires = datetime.min.replace(tzinfo=UTC)
        self._login_lock = asyncio.Lock()
        self._windows = windows

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        timeout: float | None = None,
        min_retry_after: timedelta | None = None,
    ) -> TdxClient:
        """The client `settings` describe, counting rate windows in the app database."""
        windows = RateWindows(
            window_sessions(settings.database_url),
            settings.tdx_rate_window_seconds,
            settings.tdx_rate_guard_seconds,
        )
        return cls(
            settings.tdx_base_url,
            settings.tdx_beid,
            settings.tdx_web_services_key,
            settings.tdx_app_id,
            settings.tdx_asset_app_id,
            windows,
            timeout=settings.tdx_timeout_seconds if timeout is None else timeout,
            min_retry_after=(
                timedelta(seconds=settings.tdx_min_retry_after_seconds)
                if min_retry_after is None
                else min_retry_after
            ),
        )

    def __repr__(self) -> str:
        return f"TdxClient({str(self._http.base_url)!r}, app_id={self.app_id})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> TdxClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ----------------------------------------------------------------- plumbing
    def _raise_for(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        if response.status_code == 429:
            now = datetime.now(UTC)
            try:
                reset_at = parsedate_to_datetime(response.headers["X-RateLimit-Reset"])
                if reset_at.tzinfo is None:
                    reset_at = reset_at.replace(tzinfo=UTC)
            except (KeyError, TypeError, ValueError):
                reset_at = now + FALLBACK_RETRY_AFTER
            raise TdxRateLimited(reset_at, max(reset_at - now, self.min_retry_after))
        if response.status_code == 404:
            raise TdxNotFound(_error_message(response))
        raise TdxError(response.status_code, _error_message(response))

    async def _login(self, stale: str | None) -> str:
        """A valid token, logging in unless another caller already replaced `stale`."""
        async with self._login_lock:
            current = self._token
            if current is not None and current != stale and self._token_fresh():
                return current
            issued_at = datetime.now(UTC)
            response = await self._http.post(
                "auth/loginadmin",
                json={"BEID": self._beid, "WebServicesKey": self._key.get_secret_value()},
            )
            log.debug("TDX login -> %s", response.status_code)
            self._raise_for(response)
            self._token = response.text.strip().strip('"')
            self._token_expires = _token_expiry(self._token, issued_at)
            return self._token

    def _token_fresh(self) -> bool:
        return datetime.now(UTC) < self._token_expires - TOKEN_REFRESH_MARGIN

    async def _call(
        self, method: str, path: str, body: Any = None, params: Mapping[str, str] | None = None
    ) -> Any:
        token = self._token
        if token is None or not self._token_fresh():
            token = await self._login(token)
        key = method_key(method, path)
        try:
            window_no = await self._windows.acquire(key)
        except WindowFull as e:
            # At least a moment: Temporal takes no delay as "back off by the attempt count".
            wait = max(e.reset_at - datetime.now(UTC), timedelta(milliseconds=100))
            raise TdxRateLimited(e.reset_at, wait) from None
        response = await self._send(method, path, body, params, token)
        if response.status_code == 401:
            token = await self._login(token)
            response = await self._send(method, path, body, params, token)
        await self._windows.observe(key, window_no, response)
        self._raise_for(response)
        return response.json() if response.content else None

    async def _send(
        self, method: str, path: str, body: Any, params: Mapping[str, str] | None, token: str
    ) -> httpx.Response:
        # httpx's timeout bounds each phase; a whole request (a trickling answer included)
        # must end within `timeout` too, or a create could outlast the wait for its marker.
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._http.request(
                    method,
                    path,
                    json=body,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
        except TimeoutError:
            _count(method, path, "timeout")
            raise httpx.ReadTimeout(f"no answer from TDX within {self.timeout:g} s") from None
        log.debug("TDX %s %s -> %s", method, path, response.status_code)
        _count(method, path, str(response.status_code))
        return response

    # ----------------------------------------------------------------- tickets
    async def create_ticket(self, ticket: Mapping[str, Any], *, notify: bool = False) -> Json:
        """Create a ticket and return it (with `ID`, `StatusName`, `StatusClass`).

        TDX's own notifications to reviewer, requestor and responsible stay off unless
        `notify` is set, because deskflow sends its own emails.
        """
        flag = str(notify).lower()
        params = {"EnableNotifyReviewer": flag, "NotifyRequestor": flag, "NotifyResponsible": flag}
        return await self._call("POST", f"{self.app_id}/tickets", dict(ticket), params)

    async def get_ticket(self, ticket_id: int) -> Json:
        return await self._call("GET", f"{self.app_id}/tickets/{ticket_id}")

    async def search_tickets(
        self,
        text: str,
        *,
        max_results: int = 50,
        status_ids: Sequence[int] | None = None,
    ) -> list[Json]:
        """Tickets whose title or description contains `text`."""
        search: Json = {"SearchText": text, "MaxResults": max_results}
        if status_ids is not None:
            search["StatusIDs"] = list(status_ids)
        return await self._call("POST", f"{self.app_id}/tickets/search", search)

    async def edit_ticket(self, ticket_id: int, ticket: Mapping[str, Any]) -> Json:
        """Full edit: `ticket` must be the whole ticket (fields left out are cleared)."""
        return await self._call("POST", f"{self.app_id}/tickets/{ticket_id}", dict(ticket))

    async def patch_ticket(self, ticket_id: int, operations: Sequence[Mapping[str, Any]]) -> Json:
        """Partial edit with a TDX JSON Patch list; returns the updated ticket.

        Field names are case-insensitive and custom attributes are addressed by ID, e.g.
        `[{"op": "add", "path": "/StatusID", "value": 3},
        {"op": "add", "path": "/attributes/1234", "value": "x"}]`.
        """
        ops = [dict(op) for op in operations]
        return await self._call("PATCH", f"{self.app_id}/tickets/{ticket_id}", ops)

    async def add_ticket_feed(
        self,
        ticket_id: int,
        comments: str,
        *,
        new_status_id: int | None = None,
        is_private: bool = True,
        notify: Sequence[str] = (),
    ) -> Json:
        """Comment on a ticket, optionally changing its status; returns the feed entry."""
        entry: Json = {
            "Comments": comments,
            "NewStatusID": new_status_id or 0,
            "IsPrivate": is_private,
            "Notify": list(notify),
        }
        return await self._call("POST", f"{self.app_id}/tickets/{ticket_id}/feed", entry)

    # ----------------------------------------------------------------- ticket tasks
    async def list_tasks(self, ticket_id: int) -> list[Json]:
        return await self._call("GET", f"{self.app_id}/tickets/{ticket_id}/tasks")

    async def get_task(self, ticket_id: int, task_id: int) -> Json:
        return await self._call("GET", f"{self.app_id}/tickets/{ticket_id}/tasks/{task_id}")

    async def create_task(self, ticket_id: int, task: Mapping[str, Any]) -> Json:
        return await self._call("POST", f"{self.app_id}/tickets/{ticket_id}/tasks", dict(task))

    async def update_task(self, ticket_id: int, task_id: int, task: Mapping[str, Any]) -> Json:
        """Full edit of a task (PUT): send the whole task, e.g. after `get_task`."""
        path = f"{self.app_id}/tickets/{ticket_id}/tasks/{task_id}"
        return await self._call("PUT", path, dict(task))

    async def complete_task(
        self, ticket_id: int, task_id: int, comments: str = "Completed by deskflow."
    ) -> Json:
        """Mark a task 100% complete through its feed, the only way TDX sets completion."""
        path = f"{self.app_id}/tickets/{ticket_id}/tasks/{task_id}/feed"
        return await self._call("POST", path, {"PercentComplete": 100, "Comments": comments})

    # ----------------------------------------------------------------- reference data
    async def search_assets_by_serial(self, serial: str, *, exact: bool = True) -> list[Json]:
        """Assets by serial number.

        TDX's `SerialLike` is a LIKE search (it also matches longer serials and service
        tags), so by default only assets whose serial equals `serial`, ignoring case and
        surrounding spaces, are returned.
        """
        wanted = serial.strip()
        found: list[Json] = await self._call(
            "POST", f"{self.asset_app_id}/assets/search", {"SerialLike": wanted}
        )
        if not exact:
            return found
        return [
            a for a in found if str(a.get("SerialNumber", "")).strip().lower() == wanted.lower()
        ]

    async def get_asset(self, asset_id: int) -> Json:
        return await self._call("GET", f"{self.asset_app_id}/assets/{asset_id}")

    async def get_person(self, uid: str) -> Json:
        return await self._call("GET", f"people/{uid}")

    async def get_location(self, location_id: int) -> Json:
        return await self._call("GET", f"locations/{location_id}")
