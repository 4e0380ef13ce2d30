"""Activities retried by Temporal never email twice, never create a second TDX ticket,
and wait out TDX's and Slack's rate limits exactly as long as the service says."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import delete
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.email import EmailActivities
from activities.slack import SlackActivities
from activities.slack_client import SlackClient
from activities.tdx import TdxActivities
from activities.tdx_client import TdxClient
from domain.activity_requests import EmailRequest, SlackRequest, TdxTicketRequest
from store.db import make_engine, session_factory
from store.tables import Event
from tests.workflows.helpers import ticket_input


@pytest.fixture
def sessions(settings):
    return session_factory(make_engine(settings.database_url))


def email_request(template: str = "mac_mdm_request") -> EmailRequest:
    inp = ticket_input("remote", "med-remote", platform="mac")
    from domain.refresh import TicketState

    state = TicketState.model_validate(
        inp.model_dump(exclude={"resume", "history_limit"})
        | {
            "status": "pending_ordering",
            "created_at": "2027-01-04T15:00:00Z",
            "replacement_system": {"serial": "C02NEW", "platform": "mac", "model": "MacBook Pro"},
        }
    )
    return EmailRequest(
        key=f"{inp.ticket_id}:{template}:1",
        ticket_id=inp.ticket_id,
        template=template,
        audience="mac_engineering",
        ticket=state,
    )


async def test_a_retried_email_is_sent_once(settings, sessions, sim):
    acts = EmailActivities(settings, sessions)
    req = email_request()
    first = await ActivityEnvironment().run(acts.send_email, req)
    again = await ActivityEnvironment().run(acts.send_email, req)
    assert not first.already_sent and again.already_sent
    assert again.message_id == first.message_id
    [msg] = sim.mail.find(ticket=req.ticket_id)
    assert msg.headers["X-Deskflow-Template"] == "mac_mdm_request"
    assert msg.addressed_to(settings.mac_engineering_email)


async def test_an_smtp_refusal_is_retried_and_then_sent_once(settings, sessions, sim):
    acts = EmailActivities(settings, sessions)
    req = email_request()
    sim.mail.fail_next(1, code=451)
    with pytest.raises(ApplicationError, match="SMTP refused mac_mdm_request"):
        await ActivityEnvironment().run(acts.send_email, req)
    assert sim.mail.find(ticket=req.ticket_id) == []
    await ActivityEnvironment().run(acts.send_email, req)
    await ActivityEnvironment().run(acts.send_email, req)
    assert len(sim.mail.find(ticket=req.ticket_id)) == 1


def tdx_activities(settings, sessions) -> TdxActivities:
    client = TdxClient.from_settings(settings, min_retry_after=timedelta(0))
    return TdxActivities(settings, sessions, client)


async def test_tdx_create_retried_after_a_crash_finds_the_ticket_it_made(settings, sessions, sim):
    sim.tdx.reset()
    acts = tdx_activities(settings, sessions)
    key = f"crash-{uuid4().hex[:8]}:tdx-ticket"
    req = TdxTicketRequest(
        key=key, ticket_id="crash", kind="refresh", title="Refresh crash", description="x"
    )
    made = await ActivityEnvironment().run(acts.create_ticket, req)
    # The worker died after TDX answered but before the event was written.
    with sessions.begin() as db:
        db.execute(delete(Event).where(Event.key == f"tdx:{key}"))
    # Temporal retries it: the retry looks for the marker before creating.
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2)
    again = await retry.run(acts.create_ticket, req)
    assert again.tdx_ticket_id == made.tdx_ticket_id and not again.created
    assert len(sim.tdx.tickets) == 1


async def test_tdx_429_waits_until_the_window_resets(
    settings, sessions, sim, tdx_windows_forgotten
):
    sim.tdx.reset()
    sim.tdx.configure_limits(window_seconds=30, create_limit=1)
    try:
        acts = tdx_activities(settings, sessions)

        def req(n: int) -> TdxTicketRequest:
            return TdxTicketRequest(
                key=f"rl-{uuid4().hex}",
                ticket_id=f"rl{n}",
                kind="refresh",
                title="t",
                description="d",
            )

        await ActivityEnvironment().run(acts.create_ticket, req(1))
        with pytest.raises(ApplicationError) as limited:
            await ActivityEnvironment().run(acts.create_ticket, req(2))
        assert limited.value.type == "TdxRateLimited"
        delay = limited.value.next_retry_delay
        assert delay is not None and timedelta(seconds=25) <= delay <= timedelta(seconds=31)
        assert len(sim.tdx.tickets) == 1
    finally:
        sim.tdx.configure_limits(window_seconds=60, limit=100_000, create_limit=100_000)


async def test_slack_429_honours_retry_after_and_posts_once(settings, sessions, sim):
    sim.slack.reset()
    acts = SlackActivities(settings, sessions, SlackClient.from_settings(settings))
    req = SlackRequest(key=f"s-{uuid4().hex}", ticket_id="s1", channel="#nit-x", text="hello")
    sim.slack.fail(429, retry_after=7)
    with pytest.raises(ApplicationError) as limited:
        await ActivityEnvironment().run(acts.post_slack, req)
    assert limited.value.next_retry_delay == timedelta(seconds=7)
    await ActivityEnvironment().run(acts.post_slack, req)
    await ActivityEnvironment().run(acts.post_slack, req)
    assert [m.text for m in sim.slack.messages_in("#nit-x")] == ["hello"]
