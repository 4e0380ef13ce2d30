"""The Slack stand-in and the real Slack client (slack-sdk), over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from activities.slack_client import SlackClient, SlackError, SlackRateLimited
from sim.app import SimServer
from sim.slack import TIER_PER_MINUTE
from tests.activities.helpers import until_quiet
from tests.sim_settings import settings_for


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_state(sim: SimServer) -> None:
    sim.slack.reset()
    sim.slack.per_second = 1.0
    sim.slack.per_minute = dict(TIER_PER_MINUTE)


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
    # Unpaced: two posts to #ops follow each other within a millisecond on an idle machine,
    # and a pace of 1,000 a second turned the second away before it met its fault.
    sim.slack.per_second = 10**6
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
    await until_quiet(sim.slack)  # the slow post lands here, not in the next test's channels


async def test_history_returns_metadata_newest_first_a_page_at_a_time(
    sim: SimServer, slack: SlackClient, http: httpx.AsyncClient
) -> None:
    sim.slack.per_second = 1_000_000
    tss = [
        await slack.post_message(
            "#hist", f"m{n}", metadata={"event_type": "note", "event_payload": {"n": n}}
        )
        for n in range(5)
    ]
    await slack.post_message("#hist", "a reply", thread_ts=tss[0])  # stays in its thread
    auth = {"Authorization": f"Bearer {sim.slack.token}"}
    channel = sim.slack.channels["hist"]

    async def history(**params: str) -> dict:
        answer = await http.get("/slack/api/conversations.history", params=params, headers=auth)
        assert answer.status_code == 200
        return answer.json()

    first = await history(channel=channel, limit="2", include_all_metadata="true")
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"]
    assert first["messages"][0]["metadata"] == {"event_type": "note", "event_payload": {"n": 4}}
    cursor = first["response_metadata"]["next_cursor"]
    rest = await history(channel=channel, limit="2", cursor=cursor, include_all_metadata="1")
    assert [m["text"] for m in rest["messages"]] == ["m2", "m1"] and rest["has_more"]
    plain = await history(channel=channel, oldest=tss[2])  # after m2, without metadata
    assert [m["text"] for m in plain["messages"]] == ["m4", "m3"] and not plain["has_more"]
    assert "metadata" not in plain["messages"][0] and "response_metadata" not in plain
    both = await history(channel=channel, oldest=tss[2], inclusive="true")
    assert [m["text"] for m in both["messages"]] == ["m4", "m3", "m2"]
    form = {"token": sim.slack.token, "channel": channel, "oldest": tss[2], "inclusive": "1"}
    posted_form = await http.post("/slack/api/conversations.history", data=form)
    assert posted_form.json()["messages"] == both["messages"]  # Slack takes POST forms too

    await slack.post_message("#second", "another channel")
    listed = await http.get("/slack/api/conversations.list", params={"limit": 1}, headers=auth)
    cursor = listed.json()["response_metadata"]["next_cursor"]
    listed_too = await http.get(
        "/slack/api/conversations.list", params={"limit": 1, "cursor": cursor}, headers=auth
    )
    pages = [listed.json()["channels"], listed_too.json()["channels"]]
    assert [[c["name"] for c in page] for page in pages] == [["hist"], ["second"]]
    assert listed_too.json()["response_metadata"]["next_cursor"] == ""

    # Slack's refusals: a name is not an ID; cursors and timestamps must be Slack's.
    assert (await history(channel="#hist"))["error"] == "channel_not_found"
    assert (await history(channel=channel, cursor="bm9wZQ=="))["error"] == "invalid_cursor"
    assert (await history(channel=channel, oldest="yesterday"))["error"] == "invalid_ts_oldest"
    bad = {"channel": "#hist", "text": "x", "metadata": {"event_type": "note"}}
    posted = await http.post("/slack/api/chat.postMessage", json=bad, headers=auth)
    assert posted.json() == {"ok": False, "error": "invalid_metadata_format"}


async def test_the_client_finds_a_message_by_its_metadata(
    sim: SimServer, slack: SlackClient
) -> None:
    sim.slack.per_second = 1_000_000
    since = datetime.now(UTC) - timedelta(seconds=1)
    for n in range(3):
        await slack.post_message("#other", f"o{n}")
    meta = {"event_type": "deskflow_notice", "event_payload": {"key": "k-1"}}
    ts = await slack.post_message("#find", "the one", metadata=meta)
    for n in range(250):  # more than a page of history after it
        await slack.post_message("#find", f"chatter {n}")
    client = SlackClient(sim.slack.token, sim.slack_base_url)  # its own channel list
    assert await client.find_message("#find", "deskflow_notice", "k-1", since=since) == ts
    assert sim.slack.calls["conversations.history"] == 2
    assert await client.find_message("#find", "deskflow_notice", "k-2", since=since) is None
    later = datetime.now(UTC)
    assert await client.find_message("#find", "deskflow_notice", "k-1", since=later) is None
    # Bounded by `latest`: a stretch that ended before the message was posted has none.
    found = await client.find_message("#find", "deskflow_notice", "k-1", since=since, until=since)
    assert found is None
    with pytest.raises(SlackError) as unknown:
        await client.find_message("#nowhere", "deskflow_notice", "k-1", since=since)
    assert unknown.value.error == "channel_not_found"


async def test_history_keeps_slacks_tier_3_pace(sim: SimServer, slack: SlackClient) -> None:
    await slack.post_message("#tier", "x", metadata={"event_type": "e", "event_payload": {}})
    since = datetime.now(UTC) - timedelta(minutes=1)
    for _ in range(50):
        await slack.find_message("#tier", "e", "k", since=since)
    with pytest.raises(SlackRateLimited) as limited:
        await slack.find_message("#tier", "e", "k", since=since)
    assert timedelta(seconds=50) <= limited.value.retry_after <= timedelta(seconds=60)
    sim.slack.fail(500, method="conversations.history")
    sim.slack.per_minute["conversations.history"] = 1000
    with pytest.raises(SlackError) as failed:
        await slack.find_message("#tier", "e", "k", since=since)
    assert failed.value.status == 500
