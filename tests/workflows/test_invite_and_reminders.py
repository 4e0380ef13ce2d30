"""When the invite and the wizard reminders go out, on the business calendar, to the minute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.refresh import Status
from tests.workflows.helpers import (
    as_local,
    failure_text,
    fires_at,
    invited,
    local,
    move_clock_to,
    sent,
    settle,
    start,
    state,
    ticket_input,
    until,
)


@pytest.mark.parametrize(
    ("created", "invite"),
    [
        # After 18:00 on Monday: the ticket's business day is Tuesday, so invite Wednesday.
        (local(2027, 3, 1, 18, 30), local(2027, 3, 3, 10, 5)),
        # Saturday: belongs to Monday, so invite Tuesday.
        (local(2027, 3, 6, 11, 0), local(2027, 3, 9, 10, 5)),
        # Evening before Thanksgiving: Thu holiday, Fri closed day, so Monday, invite Tuesday.
        (local(2027, 11, 24, 18, 1), local(2027, 11, 30, 10, 5)),
    ],
    ids=["monday-after-18", "saturday", "thanksgiving-eve-after-18"],
)
async def test_invite_goes_out_at_10_05_the_business_day_after(env, worker, sim, created, invite):
    await move_clock_to(env, created)
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    s = await until(handle, lambda s: s.setup_done and s.next_wakeup, "setup")
    assert s.status == Status.pending_invite
    assert as_local(s.invite_at) == invite and as_local(s.next_wakeup) == invite

    s = await fires_at(env, handle, invite, sent("invite"), "invite")
    assert as_local(s.invited_at) - invite < timedelta(minutes=1)
    [email] = sim.mail.find(ticket=inp.ticket_id, template="invite")
    assert email.addressed_to("jdoe@example.edu")
    await settle(handle, Status.pending_wizard)


async def test_wizard_never_walked_reminds_twice_then_needs_location_info(env, worker, sim):
    # Created Monday 2027-11-08: invite Tuesday 11-09. Counting business days from there skips
    # Veterans Day (Thu 11-11), Thanksgiving (Thu 11-25) and the closed Friday 11-26.
    await move_clock_to(env, local(2027, 11, 8, 14, 0))
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    s = await invited(env, handle)
    assert as_local(s.invited_at).date() == local(2027, 11, 9).date()
    first, second, last = (
        local(2027, 11, 17, 10, 5),
        local(2027, 11, 24, 10, 5),
        local(2027, 12, 2, 10, 5),
    )
    assert {n: as_local(t) for n, t in s.deadlines.items()} == {
        "wizard_reminder_1": first,
        "wizard_reminder_2": second,
        "location_info": last,
    }
    assert as_local(s.next_wakeup) == first

    def reminders(n: int):
        return lambda s: sum(e.template == "wizard_reminder" for e in s.emails) == n

    s = await fires_at(env, handle, first, reminders(1), "first reminder")
    assert as_local(s.emails[-1].at).date() == first.date()
    s = await settle(handle, Status.pending_wizard)
    assert as_local(s.next_wakeup) == second

    s = await fires_at(env, handle, second, reminders(2), "second reminder")
    assert as_local(s.emails[-1].at).date() == second.date()
    s = await settle(handle, Status.pending_wizard)
    assert as_local(s.next_wakeup) == last

    in_location_info = lambda s: s.status == Status.pending_location_info  # noqa: E731
    s = await fires_at(env, handle, last, in_location_info, "pending_location_info")
    s = await settle(handle, Status.pending_location_info)
    assert s.deadlines == {} and s.next_wakeup is None
    [audit] = [a for a in s.audits if a.to_status == "pending_location_info"]
    assert as_local(audit.at).date() == last.date()
    reminders_sent = sim.mail.find(ticket=inp.ticket_id, template="wizard_reminder")
    assert len(reminders_sent) == 2
    assert all(m.addressed_to("jdoe@example.edu") for m in reminders_sent)

    # The customer can no longer walk the wizard; staff provide the location instead.
    wizard = {"location": "Angell Hall, 2001"}
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("submit_wizard", wizard)
    assert "ticket is pending_location_info; this needs pending_wizard" in failure_text(
        refused.value
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("provide_location", {"actor": "nit-lead"})
    assert "enter the building and room" in failure_text(refused.value)

    await handle.execute_update(
        "provide_location", {"actor": "nit-lead", "location": "Mason Hall, 3300"}
    )
    s = await settle(handle, Status.pending_approval)
    assert s.location == "Mason Hall, 3300"
    # Staff gave the location; the customer never walked the wizard, and the ticket says so.
    assert s.location_known and not s.wizard_submitted
    [provided] = [a for a in s.audits if a.action == "location provided"]
    assert provided.actor == "nit-lead" and provided.detail == "Mason Hall, 3300"
    changed = [t for t in sim.tdx.tickets.values() if ":changed-location]" in t["Description"]]
    assert len(changed) == 1 and "Mason Hall, 3300" in changed[0]["Description"]

    # Nothing more is sent while it waits for the approver.
    await env.sleep(timedelta(days=20))
    s = await state(handle)
    assert s.status == Status.pending_approval
    assert [e.template for e in s.emails] == ["invite", "wizard_reminder", "wizard_reminder"]
