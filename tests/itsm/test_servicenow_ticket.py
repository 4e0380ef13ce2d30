"""A whole ServiceNow incident through the port: REST-message intake, routing by client and
category, a warning that spills past closing, the caller's update told to the team, hold
and release, resolution with close code and notes, every email once.

Desk: Detroit 08:00-17:00; priority 2 = response 1 h, resolution 8 h; warnings at 50 and
75 %. Client Fabrikam reads English.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from domain.sla import SlaState
from domain.sla_clock import workflow_id
from tests.itsm.helpers import clock, local, mail, mail_settles, move_to, until

USER = "jordan.lee@example.edu"
HUGO, INES = "hugo.tech@example.org", "ines.tech@example.org"
SECOND = timedelta(seconds=1)


async def value(v):
    return v


async def test_servicenow_incident_lives_its_whole_service_desk_life(env, hooks, sim):
    sn = sim.servicenow
    await move_to(env, sim, local(2026, 12, 7, 16, 30))  # Monday 16:30
    inc = sn.log_incident(
        "Printer jams on every page", company="Fabrikam", priority="2", category="Printer"
    )
    number, key = inc["number"], f"servicenow-{inc['number']}"
    sla = env.client.get_workflow_handle(workflow_id("servicenow", number))

    # Rule 2 (Fabrikam printers) routes it to Hardware; the due dates are written back.
    record = await until(
        lambda: value(sn.query("incident", f"number={number}")[0]),
        lambda r: r.get("assignment_group") == "Hardware Team" and r.get("u_deskflow_resolve_by"),
        "routing and due dates",
    )
    s = await until(lambda: clock(sla), lambda c: c.response_due is not None, "clock")
    assert s.response_due == local(2026, 12, 8, 8, 30)  # 30 min today, 30 min tomorrow
    assert record["u_deskflow_respond_by"] == "2026-12-08 13:30:00"
    expected = Counter(
        {("ticket_created", USER): 1, ("team_notice", HUGO): 1, ("team_notice", INES): 1}
    )
    await mail_settles(sim, key, expected, "acknowledgement and notice")
    created = sim.mail.find(ticket=key, template="ticket_created")[0]
    assert created.subject.startswith(f"[Ticket {number}] We have received your request")

    # 50 % of the response (30 min) falls exactly at closing: told at Tuesday's opening.
    await move_to(env, sim, local(2026, 12, 8, 7, 59))
    assert mail(sim, key) == expected, "never at closing, midnight or before opening"
    await move_to(env, sim, local(2026, 12, 8, 8) + SECOND)
    expected += {("sla_warning", HUGO): 1, ("sla_warning", INES): 1}
    await mail_settles(sim, key, expected, "response warning at the next opening")

    # An agent's comment is the response; the caller's comment is told to the team.
    await move_to(env, sim, local(2026, 12, 8, 8, 10))
    sn.comment(number, "We are sending a technician with a new fuser.")
    await until(lambda: clock(sla), lambda c: c.responded_at is not None, "response met")
    expected += {("ticket_updated", USER): 1}
    await mail_settles(sim, key, expected, "reply")
    await move_to(env, sim, local(2026, 12, 8, 8, 20))
    sn.comment(number, "It now jams every other page.", by="Jordan Lee")
    expected += {("team_notice", HUGO): 1, ("team_notice", INES): 1}
    await mail_settles(sim, key, expected, "caller update told to the team")

    # On hold 09:00-10:00: 1.5 h spent, so 50 % of the resolution (4 h) comes at 12:30.
    await move_to(env, sim, local(2026, 12, 8, 9))
    sn.set_state(number, "3")
    await until(lambda: clock(sla), lambda c: c.state == SlaState.paused, "paused")
    await move_to(env, sim, local(2026, 12, 8, 10))
    sn.set_state(number, "2")
    s = await until(lambda: clock(sla), lambda c: c.state != SlaState.paused, "resumed")
    assert s.resolution_due == local(2026, 12, 8, 16, 30)
    await move_to(env, sim, local(2026, 12, 8, 12, 29))
    assert mail(sim, key) == expected
    await move_to(env, sim, local(2026, 12, 8, 12, 30) + SECOND)
    expected += {("sla_warning", HUGO): 1, ("sla_warning", INES): 1}
    await mail_settles(sim, key, expected, "resolution warning")

    # Resolved with close code and notes: the caller is told once, the SLA is met.
    await move_to(env, sim, local(2026, 12, 8, 14))
    sn.set_state(number, "6", close_code="Solved (Permanently)", close_notes="Fuser replaced")
    expected += {("ticket_closed", USER): 1}
    await mail_settles(sim, key, expected, "resolved")
    s = await until(lambda: clock(sla), lambda c: c.finished_at is not None, "stopped")
    assert s.state == SlaState.met
