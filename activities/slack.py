"""post_slack: one message per idempotency key, however late Slack answers.

Slack's `chat.postMessage` has no idempotency key, so a post whose answer was lost (our
timeout, a 5xx, a worker killed between Slack's answer and our record) may or may not be in
the channel. It is made exactly-once here the way TDX creates are (`activities.tdx`):

- the Event under the key holds the message's `ts` once known: then there is nothing to do;
- just before posting, a `SlackPostIntent` is written, and the post carries the key in its
  `metadata` (unseen by people; Slack keeps it with the message);
- a retry that finds an intent looks for that metadata in the channel's history since the
  intent's post was sent, and records the `ts` it finds;
- finding none while Slack may still carry the earlier post out (our client's timeout plus
  `slack_post_settle_seconds` after it was sent), the retry waits instead of posting again.

An intent is removed when Slack clearly refused the post (429, an error code), so that retry
posts at once. Slack's 429s are waited out for exactly their `Retry-After`. The bot needs the
`channels:read` and `channels:history` scopes (`groups:*` for private channels) for the look.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.rate_limits import wait_until_allowed
from activities.slack_client import SlackClient, SlackError, SlackRateLimited
from domain.activity_requests import SlackRequest
from domain.settings import Settings
from store.tables import Event, SlackPostIntent

# The `event_type` of deskflow's message metadata; its payload's `key` is the post's key.
EVENT_TYPE = "deskflow_notice"
# Slack stamps `ts` with its own clock, which may run behind ours: look this much further back.
CLOCK_SKEW = timedelta(minutes=1)


class SlackActivities:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], client: SlackClient
    ) -> None:
        self.sessions = sessions
        self.client = client
        # How long after our client stopped waiting Slack may still carry a post out.
        self.settle = timedelta(seconds=settings.slack_post_settle_seconds)

    # -- the app database: what was posted, and what may have been --

    def _progress(self, key: str) -> tuple[bool, datetime | None]:
        """(posted already, when an unconfirmed post was sent), in one read session."""
        with self.sessions() as db:
            if db.scalar(select(Event.id).where(Event.key == key)) is not None:
                return True, None
            sent_at = select(SlackPostIntent.sent_at).where(SlackPostIntent.key == key)
            return False, db.scalar(sent_at)

    def _claim(self, key: str, ticket_id: str, seen: datetime | None, now: datetime) -> str:
        """Write the intent to post now: "claimed"; or "posted" when the message is recorded
        already; or "busy" when another attempt changed the intent since we read `seen`. Of
        two attempts running at once (a timed-out one still going), one posts.

        The Event is looked for inside the claim's transaction, after the intent is written:
        an attempt that records the message removes the intent in the same transaction, so
        a claim either meets that intent or sees the Event."""
        try:
            with self.sessions.begin() as db:
                if seen is None:
                    db.add(SlackPostIntent(key=key, ticket_id=ticket_id, sent_at=now))
                    db.flush()
                else:
                    claimed = db.execute(
                        update(SlackPostIntent)
                        .where(SlackPostIntent.key == key, SlackPostIntent.sent_at == seen)
                        .values(sent_at=now)
                    )
                    if claimed.rowcount != 1:
                        return "busy"
                if db.scalar(select(Event.id).where(Event.key == key)) is not None:
                    db.rollback()
                    return "posted"
                return "claimed"
        except IntegrityError:
            return "busy"

    def _drop_intent(self, key: str, sent_at: datetime) -> None:
        """Forget our own claim (made at `sent_at`), never a later attempt's."""
        with self.sessions.begin() as db:
            db.execute(
                delete(SlackPostIntent).where(
                    SlackPostIntent.key == key, SlackPostIntent.sent_at == sent_at
                )
            )

    def _record(self, req: SlackRequest, key: str, ts: str) -> None:
        """The message's `ts`, and its intent removed, in one transaction (see `_claim`)."""
        try:
            with self.sessions.begin() as db:
                db.add(
                    Event(
                        key=key,
                        ticket_id=req.ticket_id,
                        kind="slack.posted",
                        at=datetime.now(UTC),
                        detail={"channel": req.channel, "ts": ts, "text": req.text},
                    )
                )
                db.execute(delete(SlackPostIntent).where(SlackPostIntent.key == key))
        except IntegrityError:
            pass  # recorded, and its intent removed, by an attempt that ran at the same time

    # -- the activity --

    @activity.defn(name="post_slack")
    async def post_slack(self, req: SlackRequest) -> None:
        key = f"slack:{req.key}"
        posted, sent_at = await asyncio.to_thread(self._progress, key)
        if posted:
            return
        if sent_at is not None:
            settled = sent_at + self.client.timeout + self.settle
            try:
                ts = await self.client.find_message(
                    req.channel,
                    EVENT_TYPE,
                    key,
                    since=sent_at - CLOCK_SKEW,
                    until=settled + CLOCK_SKEW,
                )
            except SlackError as e:
                raise _retry_decision(e) from e
            if ts is not None:
                await asyncio.to_thread(self._record, req, key, ts)
                return
            wait = settled - datetime.now(UTC)
            if wait > timedelta(0):
                raise _earlier_post_pending(wait)
        now = datetime.now(UTC)
        claim = await asyncio.to_thread(self._claim, key, req.ticket_id, sent_at, now)
        if claim == "posted":
            return
        if claim == "busy":
            raise _earlier_post_pending(self.client.timeout)
        payload = {"key": key, "ticket_id": req.ticket_id}
        try:
            ts = await self.client.post_message(
                req.channel,
                req.text,
                metadata={"event_type": EVENT_TYPE, "event_payload": payload},
            )
        except SlackError as e:
            if e.refused:  # the message is not there: the next attempt posts at once
                await asyncio.to_thread(self._drop_intent, key, now)
            raise _retry_decision(e) from e
        await asyncio.to_thread(self._record, req, key, ts)


def _retry_decision(e: SlackError) -> ApplicationError:
    """A 429 is retried after exactly its `Retry-After`; anything else with backoff."""
    if isinstance(e, SlackRateLimited):
        return wait_until_allowed("Slack rate limit", "SlackRateLimited", e.retry_after)
    return ApplicationError(f"Slack refused the call: {e}", type="SlackError")


def _earlier_post_pending(wait: timedelta) -> ApplicationError:
    return ApplicationError(
        "an earlier Slack post may still land; looking for it again before posting",
        type="SlackPostPending",
        next_retry_delay=max(wait, timedelta(seconds=1)),
        category=ApplicationErrorCategory.BENIGN,
    )
