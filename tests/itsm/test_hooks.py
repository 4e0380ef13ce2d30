"""`POST /hooks/{itsm}`: bad deliveries are refused with a reason and change nothing; repeated
and reordered deliveries change nothing twice; a lost one is caught by the catch-up."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import Counter

import httpx
import pytest
from sqlalchemy import select
from temporalio.service import RPCError

from domain.desk_messages import CatchUpInput, CatchUpResult
from domain.sla import Pause, SlaState
from domain.sla_clock import workflow_id
from store.db import make_engine, session_factory
from store.tables import ItsmDelivery
from tests.itsm.helpers import clock, local, mail, mail_settles, move_to, until, written_back

USER = "camille.martin@example.org"
TEAM = [("team_notice", "ana.tech@example.org")]
BEARER = {"Authorization": "Bearer local-dev-halo-hook"}


async def value(v):
    return v


def deliveries(settings, ticket: str) -> list[str]:
    with session_factory(make_engine(settings.database_url))() as db:
        rows = db.scalars(select(ItsmDelivery).where(ItsmDelivery.ticket_id == ticket))
        return [r.delivery_id for r in rows]


async def test_bad_deliveries_get_a_reason_and_change_nothing(env, hooks, sim, worker):
    await move_to(env, sim, local(2026, 12, 7, 9))
    sim.halo.webhook.lose_next(1)  # keep the real delivery back: the test posts it itself
    t = sim.halo.log_ticket("Mot de passe expiré")
    body = sim.halo.webhook.log[-1].body
    url = f"{hooks}/hooks/halo"
    async with httpx.AsyncClient() as http:
        r = await http.post(url, json=body)
        assert r.status_code == 401 and "bearer" in r.json()["error"]
        r = await http.post(url, json=body, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = await http.post(url, json=body, auth=("servicenow", "local-dev-sn-hook"))
        assert r.status_code == 401
        r = await http.post(url, content=b'{"ticket": ', headers=BEARER)
        assert r.status_code == 400 and r.json()["error"].startswith("malformed JSON")
        r = await http.post(url, json={"event": "x"}, headers=BEARER)
        assert r.status_code == 422 and "body.ticket" in r.json()["error"]
        broken = copy.deepcopy(body)
        del broken["ticket"]["dateoccurred"]
        r = await http.post(url, json=broken, headers=BEARER)
        assert r.status_code == 422 and "dateoccurred" in r.json()["error"]
        wrong_type = copy.deepcopy(body)
        wrong_type["ticket"]["id"] = "not a number"
        r = await http.post(url, json=wrong_type, headers=BEARER)
        assert r.status_code == 422
        r = await http.post(f"{hooks}/hooks/jira", json=body, headers=BEARER)
        assert r.status_code == 404 and "unknown ITSM" in r.json()["error"]
        r = await http.post(
            f"{hooks}/hooks/servicenow", json=body, auth=("servicenow", "local-dev-sn-hook")
        )
        assert r.status_code == 422 and "body.record" in r.json()["error"]
        assert deliveries(worker, str(t["id"])) == []
        with pytest.raises(RPCError):
            await env.client.get_workflow_handle(workflow_id("halo", str(t["id"]))).describe()

        # The good delivery is taken in once; the product's retry of it is a duplicate.
        r = await http.post(url, json=body, headers=BEARER)
        assert r.status_code == 202 and r.json()["status"] == "accepted"
        r = await http.post(url, json=body, headers=BEARER)
        assert r.status_code == 200 and r.json()["status"] == "duplicate"
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    assert deliveries(worker, str(t["id"])).count(digest) == 1
    expected = Counter({("ticket_created", USER): 1, TEAM[0]: 1})
    await mail_settles(sim, f"halo-{t['id']}", expected, "one acknowledgement")


async def test_repeated_and_reordered_deliveries_change_nothing_twice(env, hooks, sim, worker):
    halo = sim.halo
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = halo.log_ticket("VPN refuse la connexion")
    tid, key = str(t["id"]), f"halo-{t['id']}"
    sla = env.client.get_workflow_handle(workflow_id("halo", tid))
    await move_to(env, sim, local(2026, 12, 7, 9, 30))
    halo.agent_reply(t["id"], "Avez-vous changé votre mot de passe ?")
    expected = Counter({("ticket_created", USER): 1, TEAM[0]: 1, ("ticket_updated", USER): 1})
    await mail_settles(sim, key, expected, "created and replied")
    await written_back(halo, t["id"])

    # Halo repeats every delivery, newest first; and the same content with other bytes.
    for d in reversed(list(halo.webhook.log)):
        halo.webhook.resend(d.id)
        again = {**d.body, "retry": 1}
        async with httpx.AsyncClient() as http:
            r = await http.post(f"{hooks}/hooks/halo", json=again, headers=BEARER)
            assert r.status_code in (200, 202)  # two deliveries may carry the same body
    await halo.webhook.idle()
    await mail_settles(sim, key, expected, "nothing sent twice")

    # On hold at 10:00, released at 11:00, delivered the other way round: the older hold
    # must not leave the clock paused.
    await move_to(env, sim, local(2026, 12, 7, 10))
    halo.webhook.lose_next(2)
    halo.set_status(t["id"], 4)
    hold = halo.webhook.log[-1].body
    await move_to(env, sim, local(2026, 12, 7, 11))
    halo.set_status(t["id"], 2)
    release = halo.webhook.log[-1].body
    async with httpx.AsyncClient() as http:
        for body in (release, hold):
            r = await http.post(f"{hooks}/hooks/halo", json=body, headers=BEARER)
            assert r.status_code == 202
    s = await until(lambda: clock(sla), lambda c: len(c.pauses) == 1, "hold counted")
    assert s.status.value == "in_progress" and s.state != SlaState.paused
    # The hour on hold is not counted, whichever order Halo delivered it in: the 2-day
    # (18 working hours) resolution target moves from Wednesday 09:00 to 10:00.
    assert s.pauses == [Pause(start=local(2026, 12, 7, 10), end=local(2026, 12, 7, 11))]
    assert s.resolution_due == local(2026, 12, 9, 10)
    assert mail(sim, key) == expected


async def test_a_hold_and_release_both_lost_are_counted_from_the_catch_up(env, hooks, sim, worker):
    halo = sim.halo
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = halo.log_ticket("Accès au partage réseau")
    tid = str(t["id"])
    sla = env.client.get_workflow_handle(workflow_id("halo", tid))
    await until(lambda: clock(sla), lambda c: c.resolution_due is not None, "clock running")
    await written_back(halo, t["id"])
    halo.webhook.lose_next(2)
    await move_to(env, sim, local(2026, 12, 7, 10))
    halo.set_status(t["id"], 4)
    await move_to(env, sim, local(2026, 12, 7, 11))
    halo.set_status(t["id"], 2)
    await halo.webhook.idle()
    assert (await clock(sla)).pauses == []
    # The catch-up delivers each action with the ticket as it is now (in progress): the
    # hold is known only from its action's new_status, at the action's own time.
    await env.client.execute_workflow(
        "ItsmCatchUp",
        CatchUpInput(itsm="halo"),
        id=f"itsm-catch-up-hold-{tid}",
        task_queue=worker.task_queue,
        result_type=CatchUpResult,
    )
    s = await until(lambda: clock(sla), lambda c: len(c.pauses) == 1, "hold caught up")
    assert s.pauses == [Pause(start=local(2026, 12, 7, 10), end=local(2026, 12, 7, 11))]
    assert s.resolution_due == local(2026, 12, 9, 10)


async def test_a_lost_delivery_is_caught_by_the_catch_up(env, hooks, sim, worker):
    halo = sim.halo
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = halo.log_ticket("Imprimante hors ligne")
    tid, key = str(t["id"]), f"halo-{t['id']}"
    sla = env.client.get_workflow_handle(workflow_id("halo", tid))
    expected = Counter({("ticket_created", USER): 1, TEAM[0]: 1})
    await mail_settles(sim, key, expected, "created")
    await written_back(halo, t["id"])
    await move_to(env, sim, local(2026, 12, 7, 9, 45))
    halo.webhook.lose_next(1)
    halo.agent_reply(t["id"], "Nous passons la voir à 10 h.")
    await halo.webhook.idle()
    assert mail(sim, key) == expected, "the reply's delivery was lost"
    assert (await clock(sla)).responded_at is None

    async def catch_up(run: int) -> CatchUpResult:
        return await env.client.execute_workflow(
            "ItsmCatchUp",
            CatchUpInput(itsm="halo"),
            id=f"itsm-catch-up-test-{tid}-{run}",
            task_queue=worker.task_queue,
            result_type=CatchUpResult,
        )

    result = await catch_up(1)
    assert result.tickets >= 1 and result.events >= 1
    expected += {("ticket_updated", USER): 1}
    await mail_settles(sim, key, expected, "the lost reply caught up")
    s = await until(lambda: clock(sla), lambda c: c.responded_at is not None, "response met")
    assert s.responded_at == local(2026, 12, 7, 9, 45)
    await catch_up(2)
    await mail_settles(sim, key, expected, "a second catch-up sends nothing again")


async def test_a_malformed_signal_is_dropped_and_the_clock_keeps_running(env, hooks, sim, worker):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Clavier qui colle")
    sla = env.client.get_workflow_handle(workflow_id("halo", str(t["id"])))
    await until(lambda: clock(sla), lambda c: c.response_due is not None, "clock running")
    desk = env.client.get_workflow_handle(f"desk-halo-{t['id']}")
    for handle in (sla, desk):
        for junk in ({"itsm": "halo", "ticket": None}, "not an event", {"itsm": "jira"}, None):
            await handle.signal("ticket_event", junk)
        await handle.signal("ticket_event")  # no argument at all
        good = {"itsm": "halo", "delivery_id": "x", "ticket": None}
        await handle.signal("ticket_event", args=[good, "a second argument"])
        await handle.signal("ticket_evnt", good)  # a name no handler takes
    s = await clock(sla)
    assert s.response_due == local(2026, 12, 7, 13) and s.state == SlaState.running
    desc = await sla.describe()
    assert desc.status.name == "RUNNING"
    # and it still takes the next good event
    await move_to(env, sim, local(2026, 12, 7, 9, 20))
    sim.halo.agent_reply(t["id"], "Essayez un autre port USB.")
    s = await until(lambda: clock(sla), lambda c: c.responded_at is not None, "reply taken")
    assert s.responded_at == local(2026, 12, 7, 9, 20)
    for handle in (sla, desk):  # nothing failed a workflow task: every bad signal was dropped
        events = [e async for e in handle.fetch_history_events()]
        assert not [e for e in events if e.HasField("workflow_task_failed_event_attributes")]
