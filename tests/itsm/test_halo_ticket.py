"""A whole Halo ticket through the port: webhook intake, routing, notices, SLA warnings at
their working instants, hold and release, breach, reply and close, every email once.

Desk: Detroit 08:00-17:00; priority 3 = response 4 h, resolution 2 working days (18 h);
warnings at 50 and 75 %. Client Contoso reads French.
"""

from __future__ import annotations

from collections import Counter

from domain.desk_dispatch import desk_workflow_id
from domain.sla import SlaState
from domain.sla_clock import workflow_id
from tests.itsm.helpers import clock, follow_clock, local, mail, mail_settles, move_to, until
from tests.workflows.helpers import save_history

USER = "camille.martin@example.org"
HUGO, INES = "hugo.tech@example.org", "ines.tech@example.org"


def halo_ticket(sim, tid: int) -> dict:
    return sim.halo.store.get("ticket", tid)


async def test_halo_ticket_lives_its_whole_service_desk_life(env, hooks, sim):
    await move_to(env, sim, local(2026, 12, 7, 9))  # Monday 09:00
    t = sim.halo.log_ticket("Écran noir au démarrage", category_1="Hardware - Laptop")
    tid, key = t["id"], f"halo-{t['id']}"
    sla = env.client.get_workflow_handle(workflow_id("halo", str(tid)))

    # Routed by rule 1 (incident, Hardware*) and written back with the reason.
    await until(
        lambda: _async(halo_ticket(sim, tid)), lambda x: x["team"] == "Hardware Team", "routing"
    )
    await until(
        lambda: _async([a["note_html"] for a in sim.halo.actions(tid)]),
        lambda notes: any("routing rule 1" in n for n in notes),
        "routing note",
    )
    s = await until(lambda: clock(sla), lambda c: c.response_due is not None, "clock")
    assert s.state == SlaState.running
    assert s.response_due == local(2026, 12, 7, 13)
    assert s.resolution_due == local(2026, 12, 9, 9)  # Mon 8 h + Tue 9 h + Wed 1 h
    await until(
        lambda: _async(halo_ticket(sim, tid)),
        lambda x: (
            (x["respondbydate"], x["fixbydate"]) == ("2026-12-07T18:00:00", "2026-12-09T14:00:00")
        ),
        "due dates written back to Halo",
    )
    expected = Counter(
        {("ticket_created", USER): 1, ("team_notice", HUGO): 1, ("team_notice", INES): 1}
    )
    await mail_settles(sim, key, expected, "acknowledgement and team notice")
    created = sim.mail.find(ticket=key, template="ticket_created")[0]
    assert created.subject.startswith(f"[Ticket {tid}] Nous avons bien reçu")
    assert [m.text for m in sim.slack.messages if m.channel_name == "desk-hardware"]

    # A private note is not a response: the response warning comes at 11:00 exactly.
    sim.halo.private_note(tid, "Looking at the logs")
    await move_to(env, sim, local(2026, 12, 7, 10, 59))
    assert mail(sim, key)[("sla_warning", HUGO)] == 0
    await move_to(
        env,
        sim,
        local(
            2026,
            12,
            7,
            11,
            0,
        )
        + _s(1),
    )
    expected += {("sla_warning", HUGO): 1, ("sla_warning", INES): 1}
    await mail_settles(sim, key, expected, "response warning at 50 %")
    assert (await clock(sla)).state == SlaState.warning

    # The agent's reply meets the response target and reaches the user.
    await move_to(env, sim, local(2026, 12, 7, 11, 30))
    sim.halo.agent_reply(tid, "Pouvez-vous redémarrer en maintenant F8 ?")
    s = await until(lambda: clock(sla), lambda c: c.responded_at is not None, "response met")
    assert s.responded_at == local(2026, 12, 7, 11, 30)
    expected += {("ticket_updated", USER): 1}
    await mail_settles(sim, key, expected, "reply emailed")

    # On hold Monday 16:00 (7 h spent) to Tuesday 10:00: resolution 50 % (9 h) moves from
    # Tuesday 09:00 to Tuesday 12:00.
    await move_to(env, sim, local(2026, 12, 7, 16))
    sim.halo.set_status(tid, 4)
    await until(lambda: clock(sla), lambda c: c.state == SlaState.paused, "paused")
    await move_to(env, sim, local(2026, 12, 8, 10))
    assert mail(sim, key) == expected, "nothing is told while the clock is paused"
    sim.halo.set_status(tid, 2)
    s = await until(lambda: clock(sla), lambda c: c.state != SlaState.paused, "resumed")
    assert s.resolution_due == local(2026, 12, 9, 12)
    await move_to(env, sim, local(2026, 12, 8, 11, 59))
    assert mail(sim, key) == expected
    await move_to(env, sim, local(2026, 12, 8, 12) + _s(1))
    expected += {("sla_warning", HUGO): 1, ("sla_warning", INES): 1}
    await mail_settles(sim, key, expected, "resolution warning at 50 %")

    # 75 % at Tuesday 16:30, the breach at Wednesday 12:00.
    await move_to(env, sim, local(2026, 12, 8, 16, 30) + _s(1))
    expected += {("sla_warning", HUGO): 1, ("sla_warning", INES): 1}
    await mail_settles(sim, key, expected, "resolution warning at 75 %")
    await move_to(env, sim, local(2026, 12, 9, 12) + _s(1))
    expected += {("sla_breach", HUGO): 1, ("sla_breach", INES): 1}
    await mail_settles(sim, key, expected, "breach")
    assert (await clock(sla)).state == SlaState.breached

    # Closing: the user is told once; the clock ends breached.
    await move_to(env, sim, local(2026, 12, 9, 13))
    sim.halo.set_status(tid, 9)
    expected += {("ticket_closed", USER): 1}
    await mail_settles(sim, key, expected, "closed")
    s = await until(lambda: clock(sla), lambda c: c.finished_at is not None, "clock stopped")
    assert s.state == SlaState.breached
    for message in sim.mail.find(ticket=key):
        assert message.from_ == "deskflow@example.edu"
        assert message.html and message.text
    desk_handle = env.client.get_workflow_handle(desk_workflow_id("halo", str(tid)))
    desk = await desk_handle.query("state")
    assert desk["team"] == "hardware"
    await save_history(sla, "sla_clock_halo")
    await save_history(desk_handle, "service_desk_ticket_halo")
    await follow_clock(env, sim)


def _s(seconds: int):
    from datetime import timedelta

    return timedelta(seconds=seconds)


async def _async(value):
    return value
