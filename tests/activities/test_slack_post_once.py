"""A Slack post whose answer was lost is found in the channel, never posted twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select

from activities.slack import SlackActivities
from activities.slack_client import SlackClient
from domain.activity_requests import SlackRequest
from sim.slack import HISTORY, LIST, TIER_PER_MINUTE
from store.db import make_engine, session_factory
from store.tables import Event, SlackPostIntent
from tests.activities.helpers import attempt, until_quiet

TIMEOUT = 0.3  # the client gives up after this
SLOW = 0.8  # the stand-in answers (or posts) after this
SETTLE = 2.5  # how long past our timeout Slack may still post, as deskflow is told: well past
# SLOW, since a request may reach the stand-in late on a loaded machine (100 posts at once)
CHANNEL = "#nit-central"


@pytest.fixture
def acts(settings) -> SlackActivities:
    local = settings.model_copy(
        update={"slack_timeout_seconds": TIMEOUT, "slack_post_settle_seconds": SETTLE}
    )
    sessions = session_factory(make_engine(local.database_url))
    return SlackActivities(local, sessions, SlackClient.from_settings(local))


@pytest.fixture(autouse=True)
def fresh_slack(sim):
    sim.slack.reset()
    pace = sim.slack.per_second
    yield
    sim.slack.clear_faults()
    sim.slack.per_second, sim.slack.per_minute = pace, dict(TIER_PER_MINUTE)


def request(tag: str) -> SlackRequest:
    return SlackRequest(
        key=f"{tag}-{uuid4().hex[:8]}", ticket_id=tag, channel=CHANNEL, text=f"notice {tag}"
    )


def recorded_ts(acts: SlackActivities, req: SlackRequest) -> str:
    with acts.sessions() as db:
        event = db.scalar(select(Event).where(Event.key == f"slack:{req.key}"))
        assert db.get(SlackPostIntent, f"slack:{req.key}") is None
    assert event is not None
    return event.detail["ts"]


async def test_a_post_answered_after_our_timeout_is_found_not_repeated(acts, sim):
    sim.slack.fail("late_answer", delay=SLOW)  # Slack keeps the message, answers too late
    req = request("late")
    first = await attempt(acts.post_slack, req)
    assert first is not None and first.type == "SlackError"
    assert [m.text for m in sim.slack.messages_in(CHANNEL)] == ["notice late"]

    assert await attempt(acts.post_slack, req) is None
    (message,) = sim.slack.messages_in(CHANNEL)
    assert recorded_ts(acts, req) == message.ts
    assert message.metadata == {
        "event_type": "deskflow_notice",
        "event_payload": {"key": f"slack:{req.key}", "ticket_id": "late"},
    }
    await until_quiet(sim.slack)
    assert await attempt(acts.post_slack, req) is None  # and from now on, nothing at all is sent
    assert len(sim.slack.messages_in(CHANNEL)) == 1


async def test_a_post_still_in_flight_is_waited_for(acts, sim):
    sim.slack.fail("timeout", delay=SLOW)  # Slack posts only after we stopped waiting
    req = request("slow")
    assert (await attempt(acts.post_slack, req)).type == "SlackError"
    second = await attempt(acts.post_slack, req)
    assert second is not None and second.type == "SlackPostPending"
    assert timedelta(0) < second.next_retry_delay <= timedelta(seconds=TIMEOUT + SETTLE)
    assert sim.slack.messages_in(CHANNEL) == []
    await until_quiet(sim.slack)

    assert await attempt(acts.post_slack, req) is None
    (message,) = sim.slack.messages_in(CHANNEL)
    assert recorded_ts(acts, req) == message.ts


async def test_a_post_that_really_failed_is_made_once_the_wait_is_over(acts, sim):
    sim.slack.fail(500)  # did Slack post it? It cannot say
    req = request("gone")
    assert (await attempt(acts.post_slack, req)).type == "SlackError"
    pending = await attempt(acts.post_slack, req)
    assert pending.type == "SlackPostPending"
    await asyncio.sleep(pending.next_retry_delay.total_seconds())
    assert await attempt(acts.post_slack, req) is None
    (message,) = sim.slack.messages_in(CHANNEL)
    assert recorded_ts(acts, req) == message.ts


async def test_a_post_answered_with_an_error_that_may_follow_a_post_is_not_repeated(acts, sim):
    # Slack's documentation of `internal_error`: some aspect of the operation may have
    # succeeded. Here it did: the message is in the channel.
    sim.slack.fail("late_answer", error="internal_error", delay=0)
    req = request("maybe")
    first = await attempt(acts.post_slack, req)
    assert first is not None and "internal_error" in first.message
    assert await attempt(acts.post_slack, req) is None
    (message,) = sim.slack.messages_in(CHANNEL)
    assert recorded_ts(acts, req) == message.ts


async def test_a_refused_post_is_posted_at_once_on_retry(acts, sim):
    sim.slack.fail(error="not_in_channel")  # Slack said no: nothing was posted
    req = request("refused")
    first = await attempt(acts.post_slack, req)
    assert first is not None and "not_in_channel" in first.message
    assert await attempt(acts.post_slack, req) is None
    assert [m.text for m in sim.slack.messages_in(CHANNEL)] == ["notice refused"]


async def test_the_look_reads_every_page_of_a_busy_channel(acts, sim):
    sim.slack.fail("late_answer", delay=SLOW)
    req = request("busy")
    assert (await attempt(acts.post_slack, req)).type == "SlackError"
    client = SlackClient(sim.slack.token, sim.slack_base_url)
    sim.slack.per_second = 1_000_000
    for n in range(450):  # others keep talking: the lost post is three pages back
        await client.post_message(CHANNEL, f"chatter {n}")
    assert await attempt(acts.post_slack, req) is None
    assert sum(m.text == "notice busy" for m in sim.slack.messages_in(CHANNEL)) == 1
    assert sim.slack.calls[HISTORY] == 3


async def test_a_hundred_posts_under_a_quarter_of_bad_answers_land_once_each(acts, sim):
    sim.slack.per_minute |= {HISTORY: 100_000, LIST: 100_000}  # the pace is tested elsewhere
    # A quarter of the posts' answers go wrong: 10 answered too late (posted), 5 posted after
    # we stopped waiting, 5 a 500 (not posted), 5 a 429.
    for status, count in (("late_answer", 10), ("timeout", 5), (500, 5), (429, 5)):
        sim.slack.fail(status, count=count, delay=SLOW)
    outcomes: Counter[str] = Counter()

    async def until_posted(req: SlackRequest) -> None:
        for _ in range(60):
            error = await attempt(acts.post_slack, req)
            outcomes[error.type if error else "posted"] += 1
            if error is None:
                return
            delay = error.next_retry_delay or timedelta(seconds=0.1)
            await asyncio.sleep(delay.total_seconds())
        raise AssertionError(f"{req.key} never posted")

    reqs = [request(f"t{n:03d}") for n in range(100)]
    await asyncio.gather(*(until_posted(r) for r in reqs))
    await until_quiet(sim.slack)

    keys = Counter(
        m.metadata["event_payload"]["key"] for m in sim.slack.messages_in(CHANNEL) if m.metadata
    )
    assert {k: n for k, n in keys.items() if n > 1} == {}, "posted twice"
    assert set(keys) == {f"slack:{r.key}" for r in reqs}
    ts = {m.metadata["event_payload"]["key"]: m.ts for m in sim.slack.messages_in(CHANNEL)}
    assert all(recorded_ts(acts, r) == ts[f"slack:{r.key}"] for r in reqs)
    faults = sim.slack.injected
    assert faults == {"late_answer": 10, "timeout": 5, "500": 5, "429": 5}
