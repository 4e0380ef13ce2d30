"""The Slack stand-in and the real Slack client (slack-sdk), over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from activities.slack_client import SlackClient, SlackError, SlackRateLimited
from sim.app import SimServer
from tests.sim_settings import settings_for


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_state(sim: SimServer) -> None:
    sim.slack.reset()
    sim.slack.per_second = 1.0


@pytest.fixture
def slack(sim: SimServer) -> SlackClient:
    return SlackClient.from_settings(settings_for(sim), timeout=2)


@pytest.fixture
async def http(sim: SimServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.http_url) as client:
        yield client


async def test_post_message_creates_the_channel_and_keeps_the_message(
    sim: SimServer, slack: SlackClient, http: httpx.AsyncClient
) -> None:
    sim.slack.per_second = 1000
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Refresh* ready"}}]
    ts = await slack.post_message("#nit-desktop", "Refresh ready", blocks)

    (message,) = sim.slack.messages_in("nit-desktop")
    assert (message.ts, message.text, message.blocks) == (ts, "Refresh ready", blocks)
    assert message.channel == sim.slack.channels["nit-desktop"]

    reply = await slack.post_message(message.channel, "Thread reply", thread_ts=ts)
    assert float(reply) > float(ts)
    listed = (await http.get("/_sim/slack/messages", params={"channel": "#nit-desktop"})).json()
    assert [(m["text"], m["thread_ts"]) for m in listed] == [
        ("Refresh ready", None),
        ("Thread reply", ts),
    ]


async def test_bad_token_is_invalid_auth(sim: SimServer) -> None:
    intruder = SlackClient("xoxb-wrong", sim.slack_base_url)
    with pytest.raises(SlackError) as caught:
        await intruder.post_message("#general", "hi")
    assert caught.value.error == "invalid_auth"
    assert not isinstance(caught.value, SlackRateLimited)
    assert sim.slack.messages == []


async def test_form_encoded_post_with_token_field(sim: SimServer, http: httpx.AsyncClient) -> None:
    answer = await http.post(
        "/slack/api/chat.postMessage",
        data={"token": sim.slack.token, "channel": "#forms", "text": "from a form"},
    )
    body = answer.json()
    assert body["ok"] is True
    assert body["message"]["text"] == "from a form"
    assert sim.slack.messages_in("#forms")[0].ts == body["ts"]


async def test_second_post_within_a_second_is_429_with_retry_after(
    sim: SimServer, slack: SlackClient, http: httpx.AsyncClient
) -> None:
    await slack.post_message("#busy", "one")
    with pytest.raises(SlackRateLimited) as caught:
        await slack.post_message("#busy", "two")
    assert caught.value.retry_after == timedelta(seconds=1)
    assert caught.value.status == 429
    # The pace is per channel.
    await slack.post_message("#quiet", "elsewhere")

    raw = await http.post(
        "/slack/api/chat.postMessage",
        json={"channel": "#busy", "text": "three"},
        headers={"Authorization": f"Bearer {sim.slack.token}"},
    )
    assert raw.status_code == 429
    assert raw.headers["Retry-After"] == "1"
    assert raw.json() == {"ok": False, "error": "ratelimited"}
    assert [m.text for m in sim.slack.messages_in("#busy")] == ["one"]

    sim.slack.per_second = 50
    await slack.post_message("#fast", "a")
    with pytest.raises(SlackRateLimited):
        await slack.post_message("#fast", "b")


async def test_injected_faults(sim: SimServer, slack: SlackClient, http: httpx.AsyncClient) -> None:
    sim.slack.per_second = 1000
    sim.slack.fail(429, retry_after=7)
    with pytest.raises(SlackRateLimited) as limited:
        await slack.post_message("#ops", "x")
    assert limited.value.retry_after == timedelta(seconds=7)

    sim.slack.fail(503)
    with pytest.raises(SlackError) as failed:
        await slack.post_message("#ops", "x")
    assert failed.value.status == 503

    fault = {"channel": "#gone", "error": "channel_not_found", "count": 2}
    assert (await http.post("/_sim/slack/faults", json=fault)).status_code == 200
    await slack.post_message("#ops", "unaffected channel")
    with pytest.raises(SlackError) as missing:
        await slack.post_message("#gone", "x")
    assert missing.value.error == "channel_not_found"
    assert (await http.delete("/_sim/slack/faults")).status_code == 204
    await slack.post_message("#gone", "back")

    sim.slack.fail("timeout", delay=1.5)
    impatient = SlackClient(sim.slack.token, sim.slack_base_url, timeout=1)
    with pytest.raises(SlackError) as slow:
        await impatient.post_message("#ops", "slow")
    assert slow.value.error == "transport_error"
    assert [m.text for m in sim.slack.messages] == ["unaffected channel", "back"]
