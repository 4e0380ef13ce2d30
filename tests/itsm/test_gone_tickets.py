"""Tickets the ITSM does not have: a delivery for one is refused and changes nothing, a
write-back to one deleted meanwhile is recorded once instead of retried forever."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from temporalio.service import RPCError

from domain import halo_json
from domain.desk_dispatch import DESK_TICKET, DeskTicketInput
from domain.desk_messages import TICKET_LOOKUP_WORKFLOW, ItsmGet, TicketExistence
from domain.sla_clock import workflow_id
from tests.itsm.helpers import clock, local, mail_settles, move_to, until
from tests.itsm.test_hooks import BEARER, TEAM, USER, deliveries
from tests.workflows.helpers import save_history


async def no_workflows(env, tid: str) -> None:
    for wid in (workflow_id("halo", tid), f"desk-halo-{tid}"):
        with pytest.raises(RPCError):
            await env.client.get_workflow_handle(wid).describe()


def lookups(sim, tid: str) -> int:
    """GETs of the ticket at Halo: the hook's look-ups (no workflow here reads the ticket)."""
    return sum(1 for c in sim.halo.calls if c[:2] == ("GET", f"/halo/api/Tickets/{tid}"))


def as_ticket(body: dict, tid: int, n: int) -> dict:
    """The same delivery for ticket `tid`, made distinct (another delivery id) by `n`."""
    other = copy.deepcopy(body)
    other["ticket"]["id"] = tid
    other["resent"] = n
    return other


async def test_a_delivery_for_a_ticket_halo_does_not_have_is_refused(env, hooks, sim, worker):
    await move_to(env, sim, local(2026, 12, 7, 9))
    url = f"{hooks}/hooks/halo"
    sim.halo.webhook.lose_next(2)  # the test posts these deliveries itself
    t = sim.halo.log_ticket("Souris sans fil muette")
    body = sim.halo.webhook.log[-1].body
    gone = sim.halo.log_ticket("Ticket créé par erreur")
    gone_body = sim.halo.webhook.log[-1].body
    sim.halo.delete_ticket(gone["id"])
    async with httpx.AsyncClient() as http:
        # Well-formed, authenticated, for no ticket at all / for one deleted in Halo.
        for tid, b in ((987654, as_ticket(body, 987654, 0)), (gone["id"], gone_body)):
            r = await http.post(url, json=b, headers=BEARER)
            assert r.status_code == 422, r.text
            assert r.json()["field"] == "ticket.id"
            assert f"halo has no ticket {tid}" in r.json()["error"]
            assert deliveries(worker, str(tid)) == []
            await no_workflows(env, str(tid))

        # Halo is down for the look-up: 503 with Retry-After (Halo retries), nothing taken.
        sim.halo.fail(method="GET", path=rf"/api/Tickets/{t['id']}$", status=500, count=None)
        r = await http.post(url, json=body, headers=BEARER)
        assert r.status_code == 503 and r.headers["Retry-After"] == "30", r.text
        assert "retry" in r.json()["error"]
        assert deliveries(worker, str(t["id"])) == []
        await no_workflows(env, str(t["id"]))
        sim.halo.faults.rules.clear()

        # A burst of deliveries for one real ticket costs Halo one look-up.
        before = lookups(sim, str(t["id"]))
        burst = [body] + [as_ticket(body, t["id"], n) for n in range(1, 8)]
        answers = await asyncio.gather(*(http.post(url, json=b, headers=BEARER) for b in burst))
        assert [a.status_code for a in answers] == [202] * 8, [a.text for a in answers]
    assert lookups(sim, str(t["id"])) - before == 1
    expected = Counter({("ticket_created", USER): 1, TEAM[0]: 1})
    await mail_settles(sim, f"halo-{t['id']}", expected, "the real ticket taken in once")


def posts(sim, path: str) -> int:
    return sum(1 for c in sim.halo.calls if c[:2] == ("POST", path))


async def test_writes_to_a_deleted_ticket_are_recorded_not_retried(env, hooks, sim, worker):
    halo = sim.halo
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = halo.log_ticket("Licence Office expirée")
    tid = str(t["id"])
    sla = env.client.get_workflow_handle(workflow_id("halo", tid))

    async def written_back():
        ticket = halo.store.get("ticket", tid)
        notes = " ".join(a["note_html"] for a in halo.actions(t["id"]))
        return ticket is not None and bool(ticket["respondbydate"]), "deskflow routed" in notes

    # Both writes of a new ticket are done before it goes: the clock's due dates and the
    # ticket workflow's routing (a write after the delete would be a fourth refusal).
    await until(written_back, lambda w: all(w), "due dates and routing written back")
    await halo.webhook.idle()
    last = copy.deepcopy(halo.webhook.log[-1].body)
    halo.delete_ticket(t["id"])
    tickets, actions = posts(sim, "/halo/api/Tickets"), posts(sim, "/halo/api/Actions")

    # Halo still had it when it made this delivery: the priority rose to 1 (respond within
    # 30 minutes), so the clock re-targets and writes new due dates back, then notes its
    # warnings and breach on the ticket; all to a ticket that is gone by now.
    await move_to(env, sim, local(2026, 12, 7, 9, 10))
    last["ticket"]["priority_id"] = 1
    last["ticket"]["lastactiondate"] = "2026-12-07T14:10:00"
    await sla.signal("ticket_event", halo_json.event_from_webhook(last, "late-delivery"))
    s = await until(lambda: clock(sla), lambda c: bool(c.itsm_refusals), "refusal recorded")
    assert s.priority == "1" and s.retargets == 1
    assert "due dates write-back: the ticket is gone from the ITSM" in s.itsm_refusals[0]
    await env.sleep(timedelta(minutes=30))  # warnings at 9:15, 9:22:30, breach at 9:30
    s = await until(lambda: clock(sla), lambda c: len(c.itsm_refusals) == 4, "notes refused")
    told = [f"note on the response target at {p} %: the ticket is gone" for p in (50, 75, 100)]
    pairs = zip(s.itsm_refusals[1:], told, strict=True)
    assert all(r.startswith(x) for r, x in pairs), s.itsm_refusals
    # Each write was tried once: a 404 is not retried.
    assert posts(sim, "/halo/api/Tickets") == tickets + 1
    assert posts(sim, "/halo/api/Actions") == actions + 3
    assert s.state.value == "breached"
    assert (await sla.describe()).status.name == "RUNNING"
    events = [e async for e in sla.fetch_history_events()]
    assert not [e for e in events if e.HasField("workflow_task_failed_event_attributes")]
    await save_history(sla, "sla_clock_deleted_ticket")


async def test_the_lookup_answers_found_and_not_found_at_once(env, worker, sim):
    sim.halo.reset()
    t = sim.halo.log_ticket("Écran qui clignote")
    found = await env.client.start_workflow(
        TICKET_LOOKUP_WORKFLOW,
        ItsmGet(itsm="halo", ticket_id=str(t["id"])),
        id=f"lookup-{t['id']}",
        task_queue=worker.task_queue,
        result_type=TicketExistence,
    )
    answer = await found.result()
    assert answer.found and answer.ticket is not None
    assert answer.ticket.summary == "Écran qui clignote"
    await save_history(found, "itsm_lookup_found")
    missing = await env.client.start_workflow(
        TICKET_LOOKUP_WORKFLOW,
        ItsmGet(itsm="servicenow", ticket_id="INC9999999"),
        id="lookup-INC9999999",
        task_queue=worker.task_queue,
        result_type=TicketExistence,
    )
    answer = await missing.result()
    assert not answer.found and "no incident INC9999999" in answer.reason
    await save_history(missing, "itsm_lookup_missing")
    gets = [c for c in sim.servicenow.calls if c == ("GET", "/servicenow/api/now/table/incident")]
    assert len(gets) == 1  # not found is an answer, not retried


async def test_a_routing_write_back_to_a_deleted_ticket_is_logged_once(env, hooks, sim, worker):
    """The catch-up (or a delivery racing the deletion) brings a ticket Halo has deleted
    since: ServiceDeskTicket logs the refused routing and goes on, no retry loop."""
    await move_to(env, sim, local(2026, 12, 7, 9))
    sim.halo.webhook.lose_next(1)
    t = sim.halo.log_ticket("Clé USB chiffrée illisible")
    event = halo_json.event_from_webhook(sim.halo.webhook.log[-1].body, "from-the-catch-up")
    sim.halo.delete_ticket(t["id"])
    writes = posts(sim, "/halo/api/Tickets")
    desk = await env.client.start_workflow(
        DESK_TICKET,
        DeskTicketInput(itsm="halo", ticket_id=str(t["id"])),
        id=f"desk-halo-{t['id']}",
        task_queue=worker.task_queue,
        start_signal="ticket_event",
        start_signal_args=[event],
    )

    async def log() -> list[str]:
        return (await desk.query("state"))["log"]

    found = await until(log, lambda lines: any("gone" in x for x in lines), "refusal logged")
    assert any(x.startswith("routing write-back: the ticket is gone from the ITSM") for x in found)
    await env.sleep(timedelta(minutes=30))
    assert posts(sim, "/halo/api/Tickets") == writes + 1  # tried once
    assert (await desk.describe()).status.name == "RUNNING"
    events = [e async for e in desk.fetch_history_events()]
    assert not [e for e in events if e.HasField("workflow_task_failed_event_attributes")]
