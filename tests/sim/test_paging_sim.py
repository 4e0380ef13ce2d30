"""The PagerDuty stand-in and deskflow's Events API v2 client, over loopback HTTP: PagerDuty's
validation and answers, dedup by (routing key, dedup key), the throttle, phones, injected
faults (a retried page rings once), and alerts that survive a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.pagerduty_client import PagerDutyEvents
from domain.pagerduty import EventPayload, PageEvent
from sim.app import SimServer

KEY = "R0UTINGKEY000000000000000000000A"
OTHER = "R0UTINGKEY000000000000000000000B"


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(sim: SimServer) -> None:
    sim.paging.reset()
    sim.paging.per_minute = 120


def trigger(key: str = KEY, dedup: str = "after-hours-c1") -> PageEvent:
    return PageEvent(
        routing_key=key,
        event_action="trigger",
        dedup_key=dedup,
        payload=EventPayload(summary="Case 42: Pat 608-555-7777 — printer on fire", source="t"),
    )


def action(name: str, key: str = KEY, dedup: str = "after-hours-c1") -> PageEvent:
    return PageEvent(routing_key=key, event_action=name, dedup_key=dedup)  # type: ignore[arg-type]


async def test_a_repeated_trigger_rings_once_and_ack_then_resolve_close_the_alert(sim):
    pd = PagerDutyEvents(sim.paging_base_url)
    first = await pd.send(trigger())
    again = await pd.send(trigger())
    assert (first.status, first.dedup_key, again.dedup_key) == (
        "success",
        "after-hours-c1",
        "after-hours-c1",
    )
    assert len(sim.paging.pages()) == 1
    await pd.send(trigger(key=OTHER))  # same dedup key, another person: their own alert
    assert [p["routing_key"] for p in sim.paging.pages()] == [KEY, OTHER]
    await pd.send(action("acknowledge"))
    await pd.send(trigger())  # acknowledged: logged, nobody rung
    assert len(sim.paging.pages()) == 2
    await pd.send(action("resolve"))
    await pd.send(action("acknowledge", dedup="never-triggered"))  # accepted and dropped
    statuses = {(a["routing_key"], a["status"]) for a in sim.paging.alerts()}
    assert statuses == {(KEY, "resolved"), (OTHER, "triggered")}
    await pd.send(trigger())  # after a resolve a trigger opens a new alert
    assert len(sim.paging.pages()) == 3
    await pd.aclose()


async def test_pagerduty_validation_in_its_own_words(sim):
    async with httpx.AsyncClient(base_url=sim.paging_base_url) as http:
        r = await http.post("v2/enqueue", json={"routing_key": "short", "event_action": "poke"})
        assert r.status_code == 400
        body = r.json()
        assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
        assert any("routing_key" in e for e in body["errors"])
        assert any("event_action" in e for e in body["errors"])
        r = await http.post(
            "v2/enqueue",
            json={"routing_key": KEY, "event_action": "trigger", "payload": {"summary": "x"}},
        )
        assert r.status_code == 400 and any("severity" in e for e in r.json()["errors"])
        r = await http.post("v2/enqueue", content=b"{not json")
        assert r.status_code == 400
    pd = PagerDutyEvents(sim.paging_base_url)
    bad = trigger().model_copy(update={"payload": None})
    with pytest.raises(ApplicationError) as e:
        await pd.send(bad)
    assert e.value.non_retryable and e.value.type == "PagerDutyInvalid"
    await pd.aclose()


async def test_throttle_and_faults_become_retries(sim):
    pd = PagerDutyEvents(sim.paging_base_url)
    sim.paging.per_minute = 5
    for i in range(5):
        await pd.send(trigger(dedup=f"d{i}"))
    with pytest.raises(ApplicationError) as e:
        await pd.send(trigger(dedup="d5"))
    assert e.value.type == "PagerDutyThrottled" and not e.value.non_retryable
    sim.paging.reset()
    sim.paging.per_minute = 120
    sim.paging.faults.add(path="/pagerduty/v2/enqueue", status=500)
    with pytest.raises(ApplicationError) as e:
        await pd.send(trigger())
    assert e.value.type == "PagerDutyError" and not e.value.non_retryable
    assert sim.paging.pages() == []
    await pd.send(trigger())  # the retry
    assert len(sim.paging.pages()) == 1
    await pd.aclose()


async def test_an_answer_after_our_timeout_then_the_retry_rings_once(sim):
    """PagerDuty takes the page but answers after the client gave up; the retry is folded."""
    pd = PagerDutyEvents(sim.paging_base_url, timeout=0.3)
    sim.paging.faults.add(path="/pagerduty/v2/enqueue", status="timeout", delay=0.6)
    with pytest.raises(ApplicationError) as e:
        await pd.send(trigger())
    assert e.value.type == "PagerDutyDown"
    await asyncio.sleep(0.6)  # the slow answer lands: the page was made
    await pd.send(trigger())
    assert len(sim.paging.pages()) == 1
    await pd.aclose()


async def test_phones_answer_voicemail_or_ring_and_the_answer_taps_the_ack_link(sim):
    sim.paging.set_phone(KEY, "voicemail")
    pd = PagerDutyEvents(sim.paging_base_url)
    await pd.send(trigger())
    assert sim.paging.pages()[0]["outcome"] == "voicemail"
    ringing = await pd.send(trigger(key=OTHER))
    page = sim.paging.pages()[1]
    assert page["outcome"] == "ringing" and ringing.status == "success"
    async with httpx.AsyncClient(base_url=sim.http_url) as http:
        r = await http.post(f"/_sim/pagerduty/pages/{page['seq']}/answer")
        assert r.status_code == 200
        r = await http.put(f"/_sim/pagerduty/phones/{OTHER}", json={"mode": "answer"})
        assert r.json()["mode"] == "answer"
        console = await http.get("/_sim/pagerduty")
        assert "printer on fire" in console.text
    assert sim.paging.pages()[1]["outcome"] == "answered"
    await pd.aclose()


async def test_alerts_and_pages_survive_a_restart(tmp_path: Path):
    async with SimServer(data_dir=str(tmp_path)) as first:
        pd = PagerDutyEvents(first.paging_base_url)
        await pd.send(trigger())
        first.paging.set_phone(KEY, "answer")
        await pd.aclose()
    async with SimServer(data_dir=str(tmp_path)) as second:
        assert [p["routing_key"] for p in second.paging.pages()] == [KEY]
        assert second.paging.phone(KEY) == "answer"
        pd = PagerDutyEvents(second.paging_base_url)
        await pd.send(trigger())  # still the open alert: no second ring
        assert len(second.paging.pages()) == 1
        await pd.aclose()
