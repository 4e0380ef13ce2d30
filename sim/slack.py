"""Stand-in for Slack's `chat.postMessage`, `conversations.history` and `conversations.list`,
served over real HTTP on loopback.

It answers the requests exactly as slack-sdk's `AsyncWebClient` sends them (JSON or form body,
or a GET query; token as a bearer header or form field) and keeps Slack's limits: about one
message per second per channel for posts, and a fixed budget per minute for the other methods
(Slack's Tier 3, 50 a minute, for history; Tier 2, 20, for the channel list); over a limit the
answer is HTTP 429 with `Retry-After`, which the product must honour. A post's `metadata`
(`{event_type, event_payload}`) is kept with the message and returned by the history when it
is asked for with `include_all_metadata`. History and list pages are cut by `limit` and
continued with an opaque `cursor` (`response_metadata.next_cursor`), newest message first,
bounded by `oldest`/`latest` as Slack bounds them. The history needs a channel ID, as Slack's
does; a name answers `channel_not_found`.
Channels are created on first post. Posted messages and channels are kept in a SQLite file
(`path`; ":memory:" for throwaway tests) so a restart loses no history, and faults (429, 5xx,
Slack error codes, slow answers) can be injected by rule.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, field_validator

from sim.itsm_common import DocStore

API_PREFIX = "/slack/api"
CONTROL_PREFIX = "/_sim/slack"


POST = "chat.postMessage"
HISTORY = "conversations.history"
LIST = "conversations.list"
# Calls a minute Slack allows a workspace's app per method (its Tier 3 and Tier 2).
TIER_PER_MINUTE = {HISTORY: 50, LIST: 20}
# Slack's page sizes: history pages hold at most 999 messages, list pages 1,000 channels.
MAX_LIMIT = {HISTORY: 999, LIST: 1000}


class SlackFault(BaseModel):
    """One injected failure for the next `count` calls of `method` (to `channel`, or to any
    when None).

    `status` is 429 (with `Retry-After: retry_after`), a 5xx code, `"timeout"`, which sleeps
    `delay` seconds and then answers normally (a post is stored only then), or `"late_answer"`,
    which stores the post at once and answers only after `delay` seconds: the client that gave
    up waiting never learns its message is in the channel. If `error` is set the answer is
    instead Slack's usual HTTP 200 `{"ok": false, "error": error}` (e.g. `channel_not_found`);
    with `"late_answer"` the post is stored all the same (Slack's `internal_error`, after
    which "some aspect of the operation" may have succeeded).
    `count=None` never runs out.
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["chat.postMessage", "conversations.history", "conversations.list"] = POST
    channel: str | None = None
    status: int | Literal["timeout", "late_answer"] = 500
    error: str | None = None
    count: int | None = 1
    delay: float = 5.0
    retry_after: int = 1

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: int | str) -> int | str:
        if value not in ("timeout", "late_answer", 429, 500, 502, 503, 504):
            raise ValueError("status must be 429, 500, 502, 503, 504, 'timeout' or 'late_answer'")
        return value


@dataclass(frozen=True)
class SlackMessage:
    """A message the stand-in accepted."""

    channel: str
    channel_name: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    at: datetime
    metadata: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "channel_name": self.channel_name,
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "metadata": self.metadata,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SlackMessage:
        return cls(**(body | {"at": datetime.fromisoformat(body["at"].replace("Z", "+00:00"))}))

    def as_slack(self, *, with_metadata: bool) -> dict[str, Any]:
        """The message object as Slack's API shows it (metadata only when asked for)."""
        body: dict[str, Any] = {
            "type": "message",
            "user": "USIMBOT01",
            "bot_id": "BSIMBOT01",
            "app_id": "ASIMAPP01",
            "text": self.text,
            "ts": self.ts,
        }
        if self.blocks:
            body["blocks"] = self.blocks
        if self.thread_ts:
            body["thread_ts"] = self.thread_ts
        if with_metadata and self.metadata:
            body["metadata"] = self.metadata
        return body


def _answer(body: dict[str, Any], status: int = 200, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


def _limited(retry_after: int) -> Response:
    """Slack's 429: `ratelimited`, and when to come back."""
    return _answer({"ok": False, "error": "ratelimited"}, 429, retry_after)


def _error(error: str) -> Response:
    """Slack's refusal: HTTP 200 with `ok: false` and the error code."""
    return _answer({"ok": False, "error": error})


def _cursor(kind: str, value: str) -> str:
    """Slack's cursors are opaque base64 text such as `next_ts:1512085861.000543`."""
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def _uncursor(cursor: str, kind: str) -> str | None:
    try:
        decoded = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    prefix, _, value = decoded.partition(":")
    return value if prefix == kind and value else None


def _ts(value: Any) -> Decimal | None:
    """A Slack timestamp ("1512085950.000216") as an exact number; None if it is none."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _limit(value: Any, method: str) -> int:
    """Slack's `limit`: 100 when absent or unreadable, at most the method's page size."""
    try:
        wanted = int(value)
    except (TypeError, ValueError):
        wanted = 100
    return min(max(wanted, 1), MAX_LIMIT[method])


def _metadata(value: Any) -> dict[str, Any] | None | str:
    """A post's `metadata` (a JSON object, or its text in a form body), or Slack's error code."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return "invalid_metadata_format"
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("event_type"), str)
        or not value["event_type"]
        or not isinstance(value.get("event_payload"), dict)
    ):
        return "invalid_metadata_format"
    return {"event_type": value["event_type"], "event_payload": value["event_payload"]}


class SlackSim:
    """State of the simulated workspace: channels, messages, pace and faults."""

    def __init__(
        self, *, token: str = "xoxb-local-dev", per_second: float = 1.0, path: str = ":memory:"
    ) -> None:
        self.token = token
        self.per_second = per_second
        # Calls a minute per method besides posting (Slack's tiers); tests may raise them.
        self.per_minute = dict(TIER_PER_MINUTE)
        self.store = DocStore(path)
        self.messages: list[SlackMessage] = sorted(
            (SlackMessage.from_json(body) for body in self.store.all("message")),
            key=lambda m: Decimal(m.ts),
        )
        # name -> ID
        self.channels: dict[str, str] = {c["name"]: c["id"] for c in self.store.all("channel")}
        self.faults: list[SlackFault] = []
        self.calls: Counter[str] = Counter()  # answered calls per method, faults included
        self.in_flight = 0  # calls being answered slowly now
        self.injected: Counter[str] = Counter()  # faults given, by status or error code
        self._last_post: dict[str, float] = {}  # channel ID -> time of last accepted post
        self._windows: dict[str, tuple[float, int]] = {}  # method -> (window end, calls)
        self._last_ts = max((float(m.ts) for m in self.messages), default=0.0)

    def reset(self) -> None:
        """Forget messages, channels, faults and pacing."""
        self.store.clear()
        self.messages.clear()
        self.channels.clear()
        self.faults.clear()
        self.calls.clear()
        self.injected.clear()
        self._last_post.clear()
        self._windows.clear()

    def clear_messages(self) -> None:
        """Forget the message history; channels stay."""
        self.messages.clear()
        self.store.delete_kind("message")

    def fail(
        self,
        status: int | Literal["timeout", "late_answer"] = 500,
        *,
        error: str | None = None,
        channel: str | None = None,
        count: int | None = 1,
        delay: float = 5.0,
        retry_after: int = 1,
        method: str = POST,
    ) -> SlackFault:
        """Queue a fault rule (see `SlackFault`); rules are consumed in the order added."""
        fault = SlackFault.model_validate(
            {
                "method": method,
                "channel": channel,
                "status": status,
                "error": error,
                "count": count,
                "delay": delay,
                "retry_after": retry_after,
            }
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def messages_in(self, channel: str) -> list[SlackMessage]:
        """Messages posted to a channel, by name (with or without '#') or ID, oldest first."""
        name = channel.lstrip("#")
        return [m for m in self.messages if channel == m.channel or name == m.channel_name]

    def _resolve(self, channel: str) -> tuple[str, str]:
        """(ID, name) of a channel, creating it on first use like a permissive workspace."""
        for name, channel_id in self.channels.items():
            if channel == channel_id:
                return channel_id, name
        name = channel.lstrip("#")
        if name not in self.channels:
            self.channels[name] = f"CSIM{len(self.channels) + 1:05d}"
            self.store.put("channel", name, {"name": name, "id": self.channels[name]})
        return self.channels[name], name

    def _take_fault(self, method: str, channel_id: str, channel_name: str) -> SlackFault | None:
        for fault in self.faults:
            wanted = fault.channel.lstrip("#") if fault.channel else None
            if fault.method == method and wanted in (None, channel_id, channel_name):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                self.injected[fault.error or str(fault.status)] += 1
                return fault
        return None

    def _refusal(self, fault: SlackFault | None) -> Response | None:
        """The answer an injected fault gives instead of the method's own, if it does."""
        if fault is None or fault.status in ("timeout", "late_answer"):
            return None
        if fault.error:
            return _error(fault.error)
        if fault.status == 429:
            return _limited(fault.retry_after)
        return _answer({"ok": False, "error": "fatal_error"}, int(fault.status))

    def _over_tier(self, method: str) -> Response | None:
        """Slack's per-method budget: a fixed window of a minute from its first call."""
        now = time.monotonic()
        ends, used = self._windows.get(method, (0.0, 0))
        if now >= ends:
            ends, used = now + 60.0, 0
        if used >= self.per_minute[method]:
            return _limited(max(1, math.ceil(ends - now)))
        self._windows[method] = (ends, used + 1)
        return None

    async def _slowly(self, delay: float) -> None:
        """Wait as a slow Slack does; the answer goes out even if the client left."""
        self.in_flight += 1
        try:
            await asyncio.sleep(delay)
        finally:
            self.in_flight -= 1

    def _auth(self, token: str | None) -> Response | None:
        if not token:
            return _error("not_authed")
        if token != self.token:
            return _error("invalid_auth")
        return None

    def _next_ts(self) -> str:
        """Slack timestamps identify messages, so they must be unique and increasing."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    async def post_message(self, params: dict[str, Any], token: str | None) -> Response:
        """Answer one chat.postMessage call the way Slack does."""
        self.calls[POST] += 1
        if refused := self._auth(token):
            return refused
        if not params.get("channel"):
            return _error("channel_not_found")
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        text = str(params.get("text") or "")
        if not text and not blocks:
            return _error("no_text")
        metadata = _metadata(params.get("metadata"))
        if isinstance(metadata, str):
            return _error(metadata)
        channel_id, channel_name = self._resolve(str(params["channel"]))

        # Slack's pace comes first: a post it turns away never reaches an injected fault.
        now = time.monotonic()
        interval = 1.0 / self.per_second
        last = self._last_post.get(channel_id)
        if last is not None and now - last < interval:
            wait = max(1, math.ceil(interval - (now - last)))
            return _limited(wait)
        self._last_post[channel_id] = now

        fault = self._take_fault(POST, channel_id, channel_name)
        if refused := self._refusal(fault):
            return refused
        if fault is not None and fault.status == "timeout":  # slow, then carried out
            await self._slowly(fault.delay)

        thread_ts = params.get("thread_ts")
        message = SlackMessage(
            channel=channel_id,
            channel_name=channel_name,
            ts=self._next_ts(),
            text=text,
            blocks=blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
            at=datetime.now(UTC),
            metadata=metadata,
        )
        self.messages.append(message)
        self.store.put("message", message.ts, message.to_json())
        if fault is not None and fault.status == "late_answer":  # carried out, answered late
            await self._slowly(fault.delay)
            if fault.error:
                return _error(fault.error)
        return _answer(
            {
                "ok": True,
                "channel": channel_id,
                "ts": message.ts,
                "message": message.as_slack(with_metadata=True),
            }
        )

    async def history(self, params: dict[str, Any], token: str | None) -> Response:
        """Answer conversations.history: a channel's messages, newest first, one page."""
        self.calls[HISTORY] += 1
        if refused := self._auth(token):
            return refused
        channel = str(params.get("channel") or "")
        if channel not in self.channels.values():  # Slack wants the ID, never the name
            return _error("channel_not_found")
        name = next(n for n, c in self.channels.items() if c == channel)
        fault = self._take_fault(HISTORY, channel, name)
        if refused := self._refusal(fault) or self._over_tier(HISTORY):
            return refused
        if fault is not None:
            await self._slowly(fault.delay)
        oldest, latest = _ts(params.get("oldest", 0)), _ts(params.get("latest", time.time()))
        if oldest is None:
            return _error("invalid_ts_oldest")
        if latest is None:
            return _error("invalid_ts_latest")
        inclusive = _flag(params.get("inclusive"))
        if params.get("cursor"):
            start = _ts(_uncursor(str(params["cursor"]), "next_ts"))
            if start is None:
                return _error("invalid_cursor")
            latest, inclusive_latest = start, True
        else:
            inclusive_latest = inclusive
        found = [
            m
            for m in reversed(self.messages)
            if m.channel == channel
            and m.thread_ts in (None, m.ts)  # replies live in their thread, not the history
            and (oldest <= Decimal(m.ts) if inclusive else oldest < Decimal(m.ts))
            and (Decimal(m.ts) <= latest if inclusive_latest else Decimal(m.ts) < latest)
        ]
        limit = _limit(params.get("limit"), HISTORY)
        page, rest = found[:limit], found[limit:]
        with_metadata = _flag(params.get("include_all_metadata"))
        body: dict[str, Any] = {
            "ok": True,
            "messages": [m.as_slack(with_metadata=with_metadata) for m in page],
            "has_more": bool(rest),
            "pin_count": 0,
        }
        if rest:
            body["response_metadata"] = {"next_cursor": _cursor("next_ts", rest[0].ts)}
        return _answer(body)

    async def list_channels(self, params: dict[str, Any], token: str | None) -> Response:
        """Answer conversations.list: the workspace's public channels, a page at a time."""
        self.calls[LIST] += 1
        if refused := self._auth(token):
            return refused
        if refused := self._refusal(self._take_fault(LIST, "", "")) or self._over_tier(LIST):
            return refused
        channels = sorted((channel_id, name) for name, channel_id in self.channels.items())
        if params.get("cursor"):
            after = _uncursor(str(params["cursor"]), "team")
            if after is None:
                return _error("invalid_cursor")
            channels = [c for c in channels if c[0] >= after]
        limit = _limit(params.get("limit"), LIST)
        page, rest = channels[:limit], channels[limit:]
        return _answer(
            {
                "ok": True,
                "channels": [
                    {
                        "id": channel_id,
                        "name": name,
                        "is_channel": True,
                        "is_private": False,
                        "is_archived": False,
                        "is_member": True,
                    }
                    for channel_id, name in page
                ],
                "response_metadata": {"next_cursor": _cursor("team", rest[0][0]) if rest else ""},
            }
        )


async def _params(request: Request) -> tuple[dict[str, Any], str | None]:
    """A Web API call's arguments (query, JSON or form body) and its token."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST":
        if request.headers.get("content-type", "").startswith("application/json"):
            params |= await request.json()
        else:
            params |= dict(await request.form())
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    token = bearer.strip() if scheme.lower() == "bearer" else params.get("token")
    return params, token


def build_router(sim: SlackSim) -> APIRouter:
    """The Web API methods under `/slack/api` and the test controls under `/_sim/slack`."""
    router = APIRouter()

    @router.post(f"{API_PREFIX}/{POST}")
    async def post_message(request: Request) -> Response:
        return await sim.post_message(*await _params(request))

    async def history(request: Request) -> Response:
        return await sim.history(*await _params(request))

    async def list_channels(request: Request) -> Response:
        return await sim.list_channels(*await _params(request))

    # Slack takes these as GET (what slack-sdk sends) or POST; the docs show the GET.
    for name, answer in ((HISTORY, history), (LIST, list_channels)):
        router.add_api_route(f"{API_PREFIX}/{name}", answer, methods=["GET"])
        router.add_api_route(
            f"{API_PREFIX}/{name}", answer, methods=["POST"], include_in_schema=False
        )

    @router.get(f"{CONTROL_PREFIX}/messages", tags=["sim: slack"])
    async def messages(channel: str | None = None) -> list[dict[str, Any]]:
        found = sim.messages_in(channel) if channel else sim.messages
        return [message.to_json() for message in found]

    @router.delete(f"{CONTROL_PREFIX}/messages", tags=["sim: slack"])
    async def clear_messages() -> Response:
        sim.clear_messages()
        return Response(status_code=204)

    @router.post(f"{CONTROL_PREFIX}/faults", tags=["sim: slack"])
    async def add_fault(fault: SlackFault) -> SlackFault:
        sim.faults.append(fault)
        return fault

    @router.delete(f"{CONTROL_PREFIX}/faults", tags=["sim: slack"])
    async def clear_faults() -> Response:
        sim.clear_faults()
        return Response(status_code=204)

    @router.post(f"{CONTROL_PREFIX}/reset", tags=["sim: slack"])
    async def reset() -> Response:
        sim.reset()
        return Response(status_code=204)

    return router
