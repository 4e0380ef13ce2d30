"""Thin wrapper on slack-sdk's AsyncWebClient for the Slack activities.

Beyond posting, it finds a message again by the `metadata` it was posted with (Slack keeps it
and returns it from `conversations.history` with `include_all_metadata`), which is how a retry
learns that a post whose answer was lost did land. It turns Slack's answers into two kinds of
error: a 429 becomes `SlackRateLimited` with Slack's `Retry-After`, so the activity can ask
Temporal for exactly that delay (`ApplicationError(next_retry_delay=...)`) instead of retrying
blindly; everything else becomes `SlackError` carrying Slack's error code. The token is never
logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

if TYPE_CHECKING:
    from domain.settings import Settings

log = logging.getLogger(__name__)

# Used when a 429 carries no readable Retry-After; Slack's pace is about one post a second.
FALLBACK_RETRY_AFTER = timedelta(seconds=1)
# A conversation ID (public, private, DM); anything else is a channel name.
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
# Messages (or channels) a page: few requests, well under Slack's 999 (or 1,000) maximum.
PAGE = 200


# Error codes after which Slack may still have carried the call out: its documentation says of
# `internal_error` and `fatal_error` that "some aspect of the operation" may have succeeded.
OUTCOME_UNKNOWN = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "unknown_error"}
)


class SlackError(Exception):
    """Slack refused the call or could not be reached.

    `error` is Slack's error code (e.g. `channel_not_found`, `invalid_auth`), or
    `transport_error` when no answer came (connection refused, timeout). `status` is the HTTP
    status when an answer came.
    """

    def __init__(self, error: str, status: int | None = None) -> None:
        super().__init__(f"Slack error: {error}" + (f" (HTTP {status})" if status else ""))
        self.error = error
        self.status = status

    @property
    def refused(self) -> bool:
        """Slack answered, and what it answered says the call was not carried out (a 429,
        or an error code such as `channel_not_found`); not a 5xx, a lost answer, or a code
        after which part of the call may have happened."""
        if self.status is None or self.status >= 500:
            return False
        return self.error not in OUTCOME_UNKNOWN


class SlackRateLimited(SlackError):
    """Slack answered 429: post to that channel again after `retry_after`."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__("ratelimited", 429)
        self.retry_after = retry_after


def _retry_after(headers: Mapping[str, Any]) -> timedelta:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return timedelta(seconds=float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError):
                break
    return FALLBACK_RETRY_AFTER


async def _call(request: Awaitable[AsyncSlackResponse]) -> AsyncSlackResponse:
    """One Web API call, its failures turned into `SlackRateLimited` or `SlackError`."""
    try:
        return await request
    except SlackApiError as exc:
        status = exc.response.status_code
        if status == 429:
            raise SlackRateLimited(_retry_after(exc.response.headers)) from exc
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        raise SlackError(str(error or "unknown_error"), status) from exc
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
        raise SlackError("transport_error") from exc


class SlackClient:
    """Posts messages with one bot token; share one instance per worker."""

    def __init__(
        self, token: str | SecretStr, base_url: str = "https://slack.com/api/", timeout: float = 30
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        # No resending inside slack-sdk (by default it resends after a dropped connection,
        # which may follow a post Slack made): a resend goes through the activity's intent.
        self._client = AsyncWebClient(
            token=secret, base_url=base_url, timeout=timeout, retry_handlers=[]
        )
        self.timeout = timedelta(seconds=timeout)
        self._channel_ids: dict[str, str] = {}  # name -> ID, as Slack listed them

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float | None = None) -> SlackClient:
        return cls(
            settings.slack_token,
            settings.slack_base_url,
            settings.slack_timeout_seconds if timeout is None else timeout,
        )

    def __repr__(self) -> str:
        return f"SlackClient({self._client.base_url!r})"

    async def post_message(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Post to `channel` (name or ID) and return the message's `ts`.

        `text` is always required: it is the notification and accessibility fallback when
        `blocks` are given. `metadata` is Slack's `{event_type, event_payload}`: unseen by
        people, kept with the message for `find_message`.
        """
        response = await _call(
            self._client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=[dict(block) for block in blocks] if blocks is not None else None,
                thread_ts=thread_ts,
                metadata=dict(metadata) if metadata is not None else None,
            )
        )
        log.debug("Slack chat.postMessage to %s -> ts %s", channel, response["ts"])
        return str(response["ts"])

    async def channel_id(self, channel: str) -> str:
        """The ID of a channel given by name or ID: Slack's history wants the ID."""
        if CHANNEL_ID.match(channel):
            return channel
        name = channel.lstrip("#")
        # Public channels first: listing private ones needs `groups:read`, which a bot that
        # posts only to public channels does not have (Slack answers `missing_scope`).
        for types in ("public_channel", "private_channel"):
            if name in self._channel_ids:
                break
            async for page in self._pages(
                "channels",
                lambda cursor, types=types: self._client.conversations_list(
                    types=types, exclude_archived=True, limit=PAGE, cursor=cursor
                ),
            ):
                self._channel_ids |= {c["name"]: c["id"] for c in page}
                if name in self._channel_ids:
                    break
        if name not in self._channel_ids:
            raise SlackError("channel_not_found")
        return self._channel_ids[name]

    async def find_message(
        self,
        channel: str,
        event_type: str,
        key: str,
        *,
        since: datetime,
        until: datetime | None = None,
    ) -> str | None:
        """The `ts` of the earliest message in `channel` posted since `since` (and by `until`,
        if given) whose metadata is `event_type` with `key` in its payload; None if none is.

        Reads only that stretch of the channel's history (Slack's `oldest` and `latest`), a
        page at a time: a busy channel's later messages are never read.
        """
        channel_id = await self.channel_id(channel)
        found: list[str] = []
        async for page in self._pages(
            "messages",
            lambda cursor: self._client.conversations_history(
                channel=channel_id,
                oldest=f"{since.timestamp():.6f}",
                latest=f"{until.timestamp():.6f}" if until is not None else None,
                inclusive=True,
                include_all_metadata=True,
                limit=PAGE,
                cursor=cursor,
            ),
        ):
            for message in page:
                meta = message.get("metadata") or {}
                if meta.get("event_type") == event_type and (
                    (meta.get("event_payload") or {}).get("key") == key
                ):
                    found.append(str(message["ts"]))
        return min(found, key=float) if found else None

    async def _pages(
        self, field: str, call: Callable[[str | None], Awaitable[AsyncSlackResponse]]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page of a cursor-paginated method, following `response_metadata.next_cursor`."""
        cursor: str | None = None
        while True:
            response = await _call(call(cursor))
            yield list(response.get(field) or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return
