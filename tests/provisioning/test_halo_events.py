"""What happens in Halo reaches the workflow by webhook (or the catch-up poll when a delivery
is lost): a category change, an SD time entry (flagged once, analyst told by email and
Slack), a close without Provisioning and Imaging time (reopened with the reason), and
repeated deliveries that change nothing twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from domain.desk_messages import CatchUpInput, CatchUpResult
from domain.provisioning import CLOSE_REASON, Status
from tests.itsm.helpers import local, move_to, until
from tests.provisioning.helpers import (
    ALEX,
    ALEX_EMAIL,
    CASEY,
    CASEY_EMAIL,
    CAT_8A,
    CAT_8B,
    PI,
    PROCUREMENT,
    SD_REMOTE,
    exhibit,
    handle,
    notes,
    update,
    wait_halo,
    wait_notes,
    wait_state,
)


async def assign_alex(h) -> None:
    await update(
        h,
        "assign",
        {
            "by": CASEY.model_dump(),
            "analyst": "alex",
            "analyst_name": "Alex Analyst",
            "analyst_email": ALEX_EMAIL,
        },
    )


def notices(sim, tid: int) -> Counter[str]:
    return Counter(
        ",".join(m.envelope_to)
        for m in sim.mail.find(ticket=f"provisioning-{tid}", template="provisioning_notice")
    )


async def catch_up(env, worker) -> CatchUpResult:
    with env.auto_time_skipping_disabled():  # waiting for it must not move the clock
        return await env.client.execute_workflow(
            "ItsmCatchUp",
            CatchUpInput(itsm="halo"),
            id=f"catch-up-{asyncio.get_running_loop().time()}",
            task_queue=worker.task_queue,
            result_type=CatchUpResult,
        )


async def test_procurement_changes_the_category_in_halo(env, halo, sim):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Monitor order", category_1=PROCUREMENT, tickettype_id=3)
    tid = t["id"]
    h = handle(env, tid)
    await wait_state(h, lambda s: s.status == Status.procurement, "procurement")
    # Procurement's own time (category 7) is not governed by the provisioning work type.
    sim.halo.log_time(tid, 0.5, SD_REMOTE, agent="Pat Procurement")
    s = await wait_state(h, lambda s: len(s.time) == 1, "procurement time recorded")
    assert [(e.flagged, e.category8) for e in s.time] == [(False, False)]
    sim.halo.set_category(tid, CAT_8A)
    s = await wait_state(h, lambda s: s.status == Status.care_team_review, "Care Team review")
    assert (s.category, s.subcategory) == (8, "A")
    t = await wait_halo(sim, tid, lambda t: t["team"] == "Care Team", "Care Team assigned")
    await wait_notes(sim, tid, "assigned to the Care Team", "note saying why")
    await until(lambda: _value(notices(sim, tid)), lambda n: n[CASEY_EMAIL] == 1, "Care Team told")
    assert not any("SD - Remote Support" in n for n in notes(sim, tid))


async def test_sd_time_made_in_halo_is_flagged_once(env, halo, sim, worker):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Image two laptops", category_1=CAT_8B)
    tid = t["id"]
    h = handle(env, tid)
    await wait_state(h, lambda s: s.status is not None, "intake")
    await assign_alex(h)
    sim.halo.log_time(tid, 1.25, SD_REMOTE, agent="Alex Analyst")
    await wait_notes(sim, tid, "SD - Remote Support", "flag note on the ticket")
    s = await wait_state(h, lambda s: any(e.flagged for e in s.time), "entry flagged")
    assert [(e.work_type, str(e.hours), e.flagged) for e in s.time] == [
        ("SD - Remote Support", "1.25", True)
    ]
    await until(lambda: _value(notices(sim, tid)), lambda n: n[ALEX_EMAIL] == 2, "Alex told")
    # The Slack post is an activity of its own: it may land a moment after the emails.
    await until(
        lambda: _value([m.text for m in sim.slack.messages_in("#provisioning")]),
        lambda texts: any("SD - Remote Support" in text for text in texts),
        "the channel told",
    )

    # The same delivery again (Halo's retry) is answered "duplicate"; the catch-up poll
    # brings the same action under another delivery id: still one note, one email.
    delivery = next(
        d for d in sim.halo.webhook.log if (d.body.get("action") or {}).get("timetaken")
    )
    sim.halo.webhook.resend(delivery.id)
    await sim.halo.webhook.idle()
    result = await catch_up(env, worker)
    assert result.events >= 1
    await asyncio.sleep(0.5)
    flags = [n for n in notes(sim, tid) if "SD - Remote Support" in n]
    assert len(flags) == 1
    assert notices(sim, tid)[ALEX_EMAIL] == 2  # assignment + one flag
    assert len((await wait_state(h, lambda s: True, "state")).time) == 1


async def test_close_in_halo_without_provisioning_time_reopens(env, halo, sim, settings):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Laptop for new hire", category_1=CAT_8B)
    tid = t["id"]
    h = handle(env, tid)
    await wait_state(h, lambda s: s.status is not None, "intake")
    await assign_alex(h)
    await update(h, "submit_details", {"by": ALEX.model_dump(), "details": exhibit()})

    sim.halo.set_status(tid, 9)
    await wait_notes(sim, tid, "deskflow reopened this ticket", "reopen note")
    t = await wait_halo(sim, tid, lambda t: t["status_id"] == 2, "reopened in Halo")
    assert any(CLOSE_REASON in n for n in notes(sim, tid))
    s = await wait_state(h, lambda s: s.reopened == 1, "reopen recorded")
    assert s.status == Status.provisioning and s.details.passwords_recorded
    await until(lambda: _value(notices(sim, tid)), lambda n: n[ALEX_EMAIL] == 2, "Alex told")

    # With the right time entered in Halo, the next close stands and the passwords go.
    sim.halo.log_time(tid, 2, PI, agent="Alex Analyst")
    await wait_state(h, lambda s: len(s.time) == 1, "time recorded")
    sim.halo.set_status(tid, 9)
    s = await wait_state(h, lambda s: s.status == Status.closed, "closed")
    assert s.reopened == 1 and not s.details.passwords_recorded
    assert (await wait_halo(sim, tid, lambda t: True, "ticket"))["status_id"] == 9


async def test_a_repeated_webhook_body_is_answered_duplicate(env, halo, sim, settings):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Laptop", category_1=CAT_8B)
    h = handle(env, t["id"])
    await wait_state(h, lambda s: s.status is not None, "intake")
    await sim.halo.webhook.idle()
    first = sim.halo.webhook.log[0]
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{halo}/hooks/halo", json=first.body, headers=sim.halo.webhook.headers()
        )
    assert answer.status_code == 200 and answer.json()["status"] == "duplicate"
    s = await wait_state(h, lambda s: True, "state")
    assert [a.action for a in s.audits] == ["opened"]


async def _value(v):
    return v
