"""Stand-in for Slack's `chat.postMessage`, served over real HTTP on loopback.

It answers the request exactly as slack-sdk's `AsyncWebClient` sends it (JSON or form body,
token as a bearer header or form field) and keeps Slack's per-channel pace of about one message
per second: a faster post gets HTTP 429 with `Retry-After`, which the product must honour.
Channels are created on first use. Posted messages and channels are kept in a SQLite file
(`path`; ":memory:" for throwaway tests) so a restart loses no history, and faults (429, 5xx,
Slack error codes, slow answers) can be injected by rule.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, field_validator

from sim.itsm_common import DocStore

API_PREFIX = "/slack/api"
CONTROL_PREFIX = "/_sim/slack"


class SlackFault(BaseModel):
    """One injected failure for the next `count` posts (to `channel`, or to any when None).

    `status` is 429 (with `Retry-After: retry_after`), a 5xx code, or `"timeout"`, which sleeps
    `delay` seconds and then posts normally. If `error` is set the answer is instead Slack's
    usual HTTP 200 `{"ok": false, "error": error}` (e.g. `channel_not_found`).
    `count=None` never runs out.
    """

    model_config = ConfigDict(extra="forbid")

    channel: str | None = None
    status: int | Literal["timeout"] = 500
    error: str | None = None
    count: int | None = 1
    delay: float = 5.0
    retry_after: int = 1

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: int | str) -> int | str:
        if value != "timeout" and value not in (429, 500, 502, 503, 504):
            raise ValueError("status must be 429, 500, 502, 503, 504 or 'timeout'")
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

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "channel_name": self.channel_name,
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "at": self.at.isoformat().replace("+00:00", "Z"),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> SlackMessage:
        return cls(**(body | {"at": datetime.fromisoformat(body["at"].replace("Z", "+00:00"))}))


def _answer(body: dict[str, Any], status: int = 200, retry_after: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


class SlackSim:
    """State of the simulated workspace: channels, messages, pace and faults."""

    def __init__(
        self, *, token: str = "xoxb-local-dev", per_second: float = 1.0, path: str = ":memory:"
    ) -> None:
        self.token = token
        self.per_second = per_second
        self.store = DocStore(path)
        self.messages: list[SlackMessage] = sorted(
            (SlackMessage.from_json(body) for body in self.store.all("message")),
            key=lambda m: float(m.ts),
        )
        # name -> ID
        self.channels: dict[str, str] = {c["name"]: c["id"] for c in self.store.all("channel")}
        self.faults: list[SlackFault] = []
        self._last_post: dict[str, float] = {}  # channel ID -> time of last accepted post
        self._last_ts = max((float(m.ts) for m in self.messages), default=0.0)

    def reset(self) -> None:
        """Forget messages, channels, faults and pacing."""
        self.store.clear()
        self.messages.clear()
        self.channels.clear()
        self.faults.clear()
        self._last_post.clear()

    def clear_messages(self) -> None:
        """Forget the message history; channels stay."""
        self.messages.clear()
        self.store.delete_kind("message")

    def fail(
        self,
        status: int | Literal["timeout"] = 500,
        *,
        error: str | None = None,
        channel: str | None = None,
        count: int | None = 1,
        delay: float = 5.0,
        retry_after: int = 1,
    ) -> SlackFault:
        """Queue a fault rule (see `SlackFault`); rules are consumed in the order added."""
        fault = SlackFault(
            channel=channel,
            status=status,
            error=error,
            count=count,
            delay=delay,
            retry_after=retry_after,
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

    def _take_fault(self, channel_id: str, channel_name: str) -> SlackFault | None:
        for fault in self.faults:
            wanted = fault.channel.lstrip("#") if fault.channel else None
            if wanted in (None, channel_id, channel_name):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def _next_ts(self) -> str:
        """Slack timestamps identify messages, so they must be unique and increasing."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    async def post_message(self, params: dict[str, Any], token: str | None) -> Response:
        """Answer one chat.postMessage call the way Slack does."""
        if not token:
            return _answer({"ok": False, "error": "not_authed"})
        if token != self.token:
            return _answer({"ok": False, "error": "invalid_auth"})
        if not params.get("channel"):
            return _answer({"ok": False, "error": "channel_not_found"})
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        text = str(params.get("text") or "")
        if not text and not blocks:
            return _answer({"ok": False, "error": "no_text"})
        channel_id, channel_name = self._resolve(str(params["channel"]))

        fault = self._take_fault(channel_id, channel_name)
        if fault is not None and fault.error:
            return _answer({"ok": False, "error": fault.error})
        if fault is not None and isinstance(fault.status, str):  # "timeout": slow, then answer
            await asyncio.sleep(fault.delay)
        elif fault is not None and fault.status == 429:
            return _answer({"ok": False, "error": "ratelimited"}, 429, fault.retry_after)
        elif fault is not None:
            return _answer({"ok": False, "error": "fatal_error"}, fault.status)

        now = time.monotonic()
        interval = 1.0 / self.per_second
        last = self._last_post.get(channel_id)
        if last is not None and now - last < interval:
            wait = max(1, math.ceil(interval - (now - last)))
            return _answer({"ok": False, "error": "ratelimited"}, 429, wait)
        self._last_post[channel_id] = now

        thread_ts = params.get("thread_ts")
        message = SlackMessage(
            channel=channel_id,
            channel_name=channel_name,
            ts=self._next_ts(),
            text=text,
            blocks=blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
            at=datetime.now(UTC),
        )
        self.messages.append(message)
        self.store.put("message", message.ts, message.to_json())
        payload: dict[str, Any] = {
            "type": "message",
            "user": "USIMBOT01",
            "bot_id": "BSIMBOT01",
            "text": text,
            "ts": message.ts,
        }
        if blocks:
            payload["blocks"] = blocks
        if message.thread_ts:
            payload["thread_ts"] = message.thread_ts
        return _answer({"ok": True, "channel": channel_id, "ts": message.ts, "message": payload})


def build_router(sim: SlackSim) -> APIRouter:
    """`chat.postMessage` under `/slack/api` and the test controls under `/_sim/slack`."""
    router = APIRouter()

    @router.post(f"{API_PREFIX}/chat.postMessage")
    async def post_message(request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("application/json"):
            params: dict[str, Any] = await request.json()
        else:
            params = dict(await request.form())
        scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
        token = bearer.strip() if scheme.lower() == "bearer" else params.get("token")
        return await sim.post_message(params, token)

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
