"""post_slack: one message per idempotency key, paced by Slack's Retry-After."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.rate_limits import wait_until_allowed
from activities.slack_client import SlackClient, SlackError, SlackRateLimited
from domain.activity_requests import SlackRequest
from store.tables import Event


class SlackActivities:
    def __init__(self, sessions: sessionmaker[Session], client: SlackClient) -> None:
        self.sessions = sessions
        self.client = client

    def _posted(self, key: str) -> bool:
        with self.sessions() as db:
            return db.scalar(select(Event.id).where(Event.key == key)) is not None

    def _record(self, req: SlackRequest, ts: str) -> None:
        try:
            with self.sessions.begin() as db:
                db.add(
                    Event(
                        key=req.key,
                        ticket_id=req.ticket_id,
                        kind="slack.posted",
                        at=datetime.now(UTC),
                        detail={"channel": req.channel, "ts": ts, "text": req.text},
                    )
                )
        except IntegrityError:
            pass

    @activity.defn(name="post_slack")
    async def post_slack(self, req: SlackRequest) -> None:
        key = f"slack:{req.key}"
        if await asyncio.to_thread(self._posted, key):
            return
        try:
            ts = await self.client.post_message(req.channel, req.text)
        except SlackRateLimited as e:
            raise wait_until_allowed("Slack rate limit", "SlackRateLimited", e.retry_after) from e
        except SlackError as e:
            raise ApplicationError(f"Slack refused the message: {e}", type="SlackError") from e
        await asyncio.to_thread(self._record, req.model_copy(update={"key": key}), ts)
