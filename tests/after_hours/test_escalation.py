"""After-hours calls end to end, on Temporal's test clock, against the Halo, PagerDuty, Slack
and SMTP stand-ins over loopback: every branch, per partner kind, page times to the minute.

The tests' schedules (after_hours.yaml, Detroit): AIMS nights/weekends weekly from Monday
18:00 (Alice on the week of Dec 7 2026, Dave's override Tuesday Dec 8), GDS daily from 07:00
(Erin on Dec 11); acknowledgement timeout 10 min; two technicians, then leadership (Hannah,
Jeff); callback promise 60 min.
"""

from __future__ import annotations

from collections import Counter

from domain.after_hours import SERVICE, CaseStatus, Promise
from tests.after_hours.helpers import (
    AGENT,
    CALLER,
    KEYS,
    case,
    case_until,
    follow_clock,
    intake,
    local,
    mail,
    minute,
    minutes,
    move_to,
    outcome,
    pages,
    seconds,
    settle,
    start,
    until,
)
from tests.workflows.helpers import save_history

LEADS = ("hannah@example.org", "jeff@example.org")


def halo_ticket(sim, ticket_id: str) -> dict:
    return sim.halo.store.get("ticket", int(ticket_id))


def alerts(sim) -> dict[str, str]:
    by_key = {v: k for k, v in KEYS.items()}
    return {by_key[a["routing_key"]]: a["status"] for a in sim.paging.alerts()}


async def test_aims_critical_call_pages_on_call_who_acknowledges_and_calls_back(
    env, worker, sim, paging
):
    friday_night = local(2026, 12, 11, 22)
    await move_to(env, sim, friday_night)
    h = await start(env, worker.task_queue, intake("c-aims-1"))

    s = await case_until(h, lambda c: c.pages, "the first page")
    assert s.status == CaseStatus.paging and s.partner_kind == "aims"
    assert [(p.person, minute(p.paged_at)) for p in s.pages] == [("alice", friday_night)]
    assert s.order == ["alice", "bob"]

    # The incident: minimum required information, HDQA notes, the service, the EAST queue.
    t = halo_ticket(sim, s.incident)
    assert t["team"] == "EAST" and t["category_1"] == SERVICE and t["tickettype_id"] == 1
    for words in (
        "Pat Caller, phone 608-555-7777",
        "Urgency: Urgent",
        "Expectation given to the customer",
        "HDQA Notes",
        "Assign to EAST one-step",
    ):
        assert words in t["details"], words

    # The customer's email says what the agent reads out, once.
    await settle(sim, "c-aims-1", Counter({("after_hours_incident", CALLER): 1}), "customer")
    email = sim.mail.find(template="after_hours_incident")[0]
    assert s.read_out == [
        f"Your incident number is {s.incident}.",
        "Contract Partner Support is open Monday - Friday, 7am - 6pm.",
        "You can reach Contract Partner Support at 608-265-6900.",
        "A technician will contact you within an hour.",
    ]
    for line in s.read_out:
        assert line in email.text

    # The page: case number, customer name and phone, brief description.
    assert pages(sim) == [
        (
            "alice",
            f"After-hours case {s.incident}: Pat Caller 608-555-7777 — The building automation "
            "workstation will not boot; HVAC alarms unseen.",
        )
    ]
    # Bob was not paged: he may not acknowledge.
    refused = await _update_refused(h, "acknowledge", {"by": "bob"})
    assert "was not paged" in refused

    await move_to(env, sim, friday_night + minutes(3))
    s = await h.execute_update("acknowledge", {"by": "alice"}, result_type=type(s))
    assert s.status == CaseStatus.acknowledged
    assert minute(s.acknowledged_at) == friday_night + minutes(3)
    await until(lambda: _async(alerts(sim)), lambda a: a == {"alice": "acknowledged"}, "ack sent")

    # Long past every timeout: nothing is paged after the acknowledgement.
    await move_to(env, sim, friday_night + minutes(45))
    assert len(pages(sim)) == 1
    s = await h.execute_update("technician_contacted", {"by": "alice"}, result_type=type(s))
    assert s.promise == Promise.kept and minute(s.contacted_at) == friday_night + minutes(45)
    final = await outcome(h)
    assert final.status == CaseStatus.contacted
    assert alerts(sim) == {"alice": "resolved"}
    notes = [a["note_html"] for a in sim.halo.actions(int(s.incident))]
    assert any("Alice Aims acknowledged" in n for n in notes)
    assert any("reached the customer" in n for n in notes)
    await settle(sim, "c-aims-1", Counter({("after_hours_incident", CALLER): 1}), "no alarm")
    assert not [m for m in sim.slack.messages if m.channel_name == "hd-leadership"]
    await save_history(h, "after_hours_aims_acknowledged")


async def test_gds_call_nobody_answers_voicemail_next_then_leadership_and_the_hour_alarm(
    env, worker, sim, paging
):
    friday_night = local(2026, 12, 11, 22)
    await move_to(env, sim, friday_night)
    judgement = "The department head must send a time-critical email to all staff tonight."
    sim.paging.set_phone(KEYS["erin"], "voicemail")
    h = await start(
        env, worker.task_queue, intake("c-gds-1", partner="uhs", emergency_judgement=judgement)
    )
    s = await case_until(h, lambda c: c.pages, "the first page")
    assert s.partner_kind == "legacy_ds" and s.emergency_judgement == judgement
    assert f"Agent's emergency judgement: {judgement}" in halo_ticket(sim, s.incident)["details"]
    assert [(p.person, minute(p.paged_at)) for p in s.pages] == [("erin", friday_night)]

    await move_to(env, sim, friday_night + minutes(9) + seconds(55))
    assert len((await case(h)).pages) == 1  # seconds before the timeout: still only Erin
    await move_to(env, sim, friday_night + minutes(10) + seconds(5))
    s = await case_until(h, lambda c: len(c.pages) == 2, "the second page")
    assert s.pages[0].outcome == "voicemail"
    assert minute(s.pages[0].outcome_at) == friday_night + minutes(10)
    assert (s.pages[1].person, minute(s.pages[1].paged_at)) == ("frank", friday_night + minutes(10))

    await move_to(env, sim, friday_night + minutes(19) + seconds(55))
    assert len((await case(h)).pages) == 2
    await move_to(env, sim, friday_night + minutes(20) + seconds(5))
    s = await case_until(h, lambda c: len(c.pages) == 4, "leadership paged")
    assert s.status == CaseStatus.leadership
    assert [(p.person, p.role, minute(p.paged_at)) for p in s.pages[2:]] == [
        ("hannah", "leadership", friday_night + minutes(20)),
        ("jeff", "leadership", friday_night + minutes(20)),
    ]
    expected = Counter({("after_hours_incident", CALLER): 1})
    expected += {("after_hours_leadership", lead): 1 for lead in LEADS}
    await settle(sim, "c-gds-1", expected, "leadership told by email")
    leadership = [m.text for m in sim.slack.messages if m.channel_name == "hd-leadership"]
    assert len(leadership) == 1 and "paged: Erin Gds, Frank Gds" in leadership[0]

    # The one-hour promise, to the minute: not at 22:59, at 23:00.
    await move_to(env, sim, friday_night + minutes(59) + seconds(55))
    assert (await case(h)).promise == Promise.pending
    await move_to(env, sim, friday_night + minutes(60) + seconds(5))
    s = await case_until(h, lambda c: c.promise == Promise.missed, "promise missed")
    assert minute(s.promise_due) == friday_night + minutes(60)
    expected += {("after_hours_promise_missed", AGENT): 1}
    expected += {("after_hours_leadership", lead): 1 for lead in LEADS}
    await settle(sim, "c-gds-1", expected, "leadership and agent alerted")
    notes = [a["note_html"] for a in sim.halo.actions(int(s.incident))]
    await until(
        lambda: _async([a["note_html"] for a in sim.halo.actions(int(s.incident))]),
        lambda n: any("callback promised within the hour" in x for x in n),
        "incident noted",
    )

    # Hannah acknowledges: paging is over; an hour later still four pages.
    s = await h.execute_update("acknowledge", {"by": "hannah"}, result_type=type(s))
    assert s.status == CaseStatus.acknowledged
    await move_to(env, sim, friday_night + minutes(125))
    assert len(pages(sim)) == 4
    assert [p.outcome for p in (await case(h)).pages] == [
        "voicemail",
        "voicemail",
        "acknowledged",
        "voicemail",
    ]
    await h.execute_update("technician_contacted", {"by": "hannah"}, result_type=type(s))
    final = await outcome(h)
    assert final.promise == Promise.missed and final.status == CaseStatus.contacted
    assert set(alerts(sim).values()) == {"resolved"}
    await settle(sim, "c-gds-1", expected, "nothing more sent")
    del notes
    await save_history(h, "after_hours_gds_leadership")


async def test_not_critical_incident_to_east_and_the_customer_told_once(env, worker, sim, paging):
    await move_to(env, sim, local(2026, 12, 12, 10))  # Saturday morning
    h = await start(env, worker.task_queue, intake("c-plain", critical=False))
    final = await outcome(h)
    assert final.status == CaseStatus.incident and final.promise == Promise.none
    t = halo_ticket(sim, final.incident)
    assert t["team"] == "EAST" and "Can wait until HDL2" in t["details"]
    assert final.read_out[-1] == "Contract Partner Support will follow up on the next business day."
    assert pages(sim) == []
    await settle(sim, "c-plain", Counter({("after_hours_incident", CALLER): 1}), "one email")


async def test_hd_solvable_or_personal_computer_is_a_normal_help_desk_case(
    env, worker, sim, paging
):
    await move_to(env, sim, local(2026, 12, 12, 10))
    for cid, over in (("c-netid", {"hd_solvable": True}), ("c-home", {"personal_computer": True})):
        h = await start(env, worker.task_queue, intake(cid, **over))
        final = await outcome(h)
        assert final.status == CaseStatus.help_desk_case, (final.refusal, final.opened_at)
        assert halo_ticket(sim, final.incident)["team"] == "Help Desk"
        assert mail(sim, cid) == Counter()
    assert pages(sim) == []


async def test_bad_calls_are_refused_with_the_field_at_fault(env, worker, sim, paging):
    await move_to(env, sim, local(2026, 12, 9, 12))  # Wednesday noon: CPS is open
    open_call = await outcome(await start(env, worker.task_queue, intake("c-open")))
    assert open_call.status == CaseStatus.refused
    assert open_call.refusal[0][0] == "when" and "CPS is open" in open_call.refusal[0][1]

    await move_to(env, sim, local(2026, 12, 11, 22))
    unknown = await outcome(await start(env, worker.task_queue, intake("c-x", partner="acme")))
    assert ("partner", "'acme' is not a contract partner") in unknown.refusal
    no_phone = intake("c-nophone")
    del no_phone["caller"]["phone"]
    refused = await outcome(await start(env, worker.task_queue, no_phone))
    assert refused.status == CaseStatus.refused and refused.refusal[0][0] == "caller.phone"
    unjudged = await outcome(await start(env, worker.task_queue, intake("c-nj", partner="uhs")))
    assert unjudged.refusal[0][0] == "emergency_judgement"
    assert pages(sim) == [] and sim.mail.find(template="after_hours_incident") == []


async def _update_refused(handle, name: str, data) -> str:
    from temporalio.client import WorkflowUpdateFailedError

    try:
        await handle.execute_update(name, data)
    except WorkflowUpdateFailedError as e:
        return str(e.cause.message if e.cause else e)
    raise AssertionError(f"{name} {data!r} was accepted")


async def _async(value):
    return value


__all__ = ["follow_clock"]


async def test_pagerduty_failing_then_slow_still_rings_each_person_once(env, worker, sim, paging):
    """A 500 on the first page and a throttled (429) re-page: retried, one ring each."""
    night = local(2026, 12, 11, 22)
    await move_to(env, sim, night)
    sim.paging.faults.add(path="/pagerduty/v2/enqueue", status=500, count=2)
    h = await start(env, worker.task_queue, intake("c-faults", critical=True))
    await until(lambda: _async(pages(sim)), lambda p: len(p) == 1, "Alice rung after the 500s")
    sim.paging.faults.add(path="/pagerduty/v2/enqueue", status=429, retry_after=5)
    await move_to(env, sim, night + minutes(10) + seconds(5))
    await move_to(env, sim, night + minutes(10) + seconds(20))  # past the Retry-After
    s = await case_until(h, lambda c: len(c.pages) == 2, "Bob paged")
    await until(lambda: _async(pages(sim)), lambda p: len(p) == 2, "Bob rung after the 429")
    assert [p for p, _ in pages(sim)] == ["alice", "bob"]
    assert minute(s.pages[1].paged_at) == night + minutes(10)
