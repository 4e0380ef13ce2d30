"""A no-customer (lab / loaner) ticket: no invite, no email ever, a generic 00:00 day 1."""

from __future__ import annotations

from datetime import timedelta

from domain.refresh import Status
from tests.workflows.helpers import (
    as_local,
    ended,
    local,
    move_clock_to,
    replacement,
    save_history,
    settle,
    start,
    state,
    ticket_input,
    until,
)


async def test_no_customer_ticket_never_emails_and_gets_a_generic_slot(env, worker, sim):
    # Friday before Labor Day (Monday 2027-09-06).
    await move_clock_to(env, local(2027, 9, 3, 15, 0))
    inp = ticket_input("no_customer", "lab-loaners")
    handle = await start(env, worker, inp)

    s = await until(handle, lambda s: s.setup_done, "setup")
    s = await settle(handle, Status.pending_ordering)
    assert s.invite_at is None and s.deadlines == {} and s.next_wakeup is None
    assert [a.action for a in s.audits] == ["created"]
    assert sorted(t["Title"] for t in sim.tdx.tasks_for(s.tdx.ticket_id)) == [
        "Build",
        "Deliver",
        "Prestage replacement",
    ]
    # Not on-prem: the team is not told on Slack.
    assert sim.slack.messages_in("#nit-central") == []

    # A week later nothing has happened: it waits for ordering, silently.
    await env.sleep(timedelta(days=7))
    assert (await state(handle)).status == Status.pending_ordering

    sim.tdx.add_asset("LOANER01")
    await handle.signal("assign_replacement", {"replacement": replacement("LOANER01")})
    s = await settle(handle, Status.delivery_scheduled)
    s = await until(handle, lambda s: s.confirmed_version == 1, "TDX day 1")
    # Found on Friday 2027-09-10: the generic slot is 00:00 on the next business day.
    assert as_local(s.day1) == local(2027, 9, 13, 0, 0)
    assert s.slot.slot_id == 0 and s.slot.start == s.slot.end == s.day1
    assert "appointment_reminder" not in s.deadlines
    build = sim.tdx.tasks[s.tdx.tasks["build"]]
    assert build["StartDate"] == s.day1.isoformat()
    assert any("Day 1 scheduled" in f["Body"] for f in sim.tdx.feed[s.tdx.ticket_id])

    sim.tdx.complete_task(s.tdx.ticket_id, s.tdx.tasks["deliver"])
    await env.sleep(timedelta(days=1, minutes=1))
    await settle(handle, Status.installed)
    sim.tdx.close_ticket(s.tdx.ticket_id)
    await env.sleep(timedelta(days=1, minutes=1))
    final = await ended(handle)
    assert final.status == Status.complete
    assert [a.to_status for a in final.audits if a.action == "status"] == [
        "pending_itsm_existence",
        "delivery_scheduled",
        "installed",
        "complete",
    ]

    # Over the whole life: not one email, logged or delivered.
    assert final.emails == []
    assert sim.mail.find(ticket=inp.ticket_id) == []
    assert sim.mail.find(to="jdoe@example.edu") == []
    await save_history(handle, "no_customer_complete")


async def test_no_customer_generic_slot_skips_a_holiday(env, worker, sim):
    # Found on the Friday before Labor Day: day 1 is Tuesday 00:00, not Monday.
    await move_clock_to(env, local(2027, 9, 3, 15, 0))
    inp = ticket_input("no_customer", "lab-loaners", replacement=replacement("LOANER02"))
    sim.tdx.add_asset("LOANER02")
    handle = await start(env, worker, inp)
    s = await settle(handle, Status.delivery_scheduled)
    assert as_local(s.day1) == local(2027, 9, 7, 0, 0)
    assert sim.mail.find(ticket=inp.ticket_id) == []
