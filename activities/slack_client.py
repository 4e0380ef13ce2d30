"""Thin wrapper on slack-sdk's AsyncWebClient for the Slack activities.

Its one job beyond posting is to turn Slack's answers into two kinds of error: a 429 becomes
`SlackRateLimited` with Slack's `Retry-After`, so the activity can ask Temporal for exactly that
delay (`ApplicationError(next_retry_delay=...)`) instead of retrying blindly; everything else
becomes `SlackError` carrying Slack's error code. The token is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

if TYPE_CHECKING:
    from domain.settings import Settings

log = logging.getLogger(__name__)

# Used when a 429 carries no readable Retry-After; Slack's pace is about one post a second.
FALLBACK_RETRY_AFTER = timedelta(seconds=1)


class SlackError(Exception):
    """Slack refused the call or could not be reached.

    `error` is Slack's error code (e.g. `channel_not_found`, `invalid_auth`), or
    `transport_error` when no answer came (connection refused, timeout).
    """

    def __init__(self, error: str, status: int | None = None) -> None:
        super().__init__(f"Slack error: {error}" + (f" (HTTP {status})" if status else ""))
        self.error = error
        self.status = status


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


class SlackClient:
    """Posts messages with one bot token; share one instance per worker."""

    def __init__(
        self, token: str | SecretStr, base_url: str = "https://slack.com/api/", timeout: int = 30
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._client = AsyncWebClient(token=secret, base_url=base_url, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: int = 30) -> SlackClient:
        return cls(settings.slack_token, settings.slack_base_url, timeout)

    def __repr__(self) -> str:
        return f"SlackClient({self._client.base_url!r})"

    async def post_message(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> str:
        """Post to `channel` (name or ID) and return the message's `ts`.

        `text` is always required: it is the notification and accessibility fallback when
        `blocks` are given.
        """
        try:
            response = await self._client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=[dict(block) for block in blocks] if blocks is not None else None,
                thread_ts=thread_ts,
            )
        except SlackApiError as exc:
            status = exc.response.status_code
            if status == 429:
                raise SlackRateLimited(_retry_after(exc.response.headers)) from exc
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            raise SlackError(str(error or "unknown_error"), status) from exc
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise SlackError("transport_error") from exc
        log.debug("Slack chat.postMessage to %s -> ts %s", channel, response["ts"])
        return str(response["ts"])
