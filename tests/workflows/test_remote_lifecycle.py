"""A remote (@home) ticket with a delegate, end to end, against the real stand-ins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.refresh import Status
from tests.workflows.helpers import (
    SHIP_TO,
    as_local,
    emails_to,
    ended,
    failure_text,
    invited,
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

DELEGATE = {"name": "Pat Assistant", "email": "pat.assistant@example.edu"}


async def test_remote_ticket_with_delegate_lives_its_whole_life(env, worker, sim):
    # Monday afternoon: invite Tuesday 10:05.
    await move_clock_to(env, local(2027, 3, 1, 14, 0))
    inp = ticket_input("remote", "med-remote", platform="mac", delegate=DELEGATE)
    handle = await start(env, worker, inp)
    s = await invited(env, handle)
    assert as_local(s.emails[0].at).date() == local(2027, 3, 2).date()
    [invite] = sim.mail.find(ticket=inp.ticket_id, template="invite")
    assert invite.addressed_to(DELEGATE["email"]) and not invite.addressed_to("jdoe@example.edu")
    assert "on behalf of Jane Doe" in invite.text and "shipping address" in invite.text
    # Remote tickets never talk to the support team's Slack channel.
    assert sim.slack.messages_in("#nit-central") == []

    # The wizard refuses a shipping address a carrier would refuse, saying why.
    bad = {
        "ZIP code must be 5 digits": SHIP_TO | {"postal_code": "481O4"},
        "'ZZ' is not a US state or territory code": SHIP_TO | {"state": "ZZ"},
    }
    for message, address in bad.items():
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("submit_wizard", {"shipping_address": address})
        assert message in failure_text(refused.value)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("submit_wizard", {"software": []})
    assert "a shipping address is required" in failure_text(refused.value)
    s = await state(handle)
    assert s.status == Status.pending_wizard and s.shipping_address is None

    # A good address: no approval on this config, so straight to pending_ordering.
    await handle.execute_update(
        "submit_wizard",
        {"shipping_address": SHIP_TO | {"state": "mi", "postal_code": "48104-1234"}},
    )
    s = await settle(handle, Status.pending_ordering)
    assert s.shipping_address.state == "MI" and s.shipping_address.postal_code == "48104-1234"
    assert [a.to_status for a in s.audits if a.action == "status"] == [
        "pending_wizard",
        "pending_ordering",
    ]

    # A Mac for an @home customer: Mac Engineering is asked for MDM setup, once.
    await handle.signal("assign_replacement", {"replacement": replacement("MACNEW01", "mac")})
    s = await settle(handle, Status.pending_itsm_existence)
    [mdm] = sim.mail.find(ticket=inp.ticket_id, template="mac_mdm_request")
    assert mdm.addressed_to(worker.mac_engineering_email)
    assert worker.mac_engineering_email == "mac-engineering@example.edu"
    assert "MACNEW01" in mdm.text and "MacBook Pro 14 M4" in mdm.text
    # Macs are not prestaged: the TDX prestage task stays open.
    assert sim.tdx.tasks[s.tdx.tasks["prestage"]]["PercentComplete"] == 0

    # TDX learns the serial: pending_delivery; no tracking number yet, so no email yet.
    sim.tdx.add_asset("MACNEW01", ManufacturerName="Apple")
    await env.sleep(timedelta(minutes=3))
    s = await settle(handle, Status.pending_delivery)
    assert sim.mail.find(ticket=inp.ticket_id, template="tracking") == []

    await handle.signal("set_tracking", {"tracking_number": "1Z999AA10123456784"})
    await until(handle, lambda s: s.tracking_emailed == "1Z999AA10123456784", "tracking email")
    # The same number again (a retried bulk action) sends nothing more.
    await handle.signal("set_tracking", {"tracking_number": "1Z999AA10123456784"})
    s = await settle(handle, Status.pending_delivery)
    [tracking] = sim.mail.find(ticket=inp.ticket_id, template="tracking")
    assert tracking.addressed_to(DELEGATE["email"])
    assert "Tracking number: 1Z999AA10123456784" in tracking.text
    assert "1200 Oak Street" in tracking.text

    # The daily TDX check: the Deliver task is done, then the ticket is closed.
    sim.tdx.complete_task(s.tdx.ticket_id, s.tdx.tasks["deliver"])
    await env.sleep(timedelta(days=1, minutes=1))
    await settle(handle, Status.installed)
    sim.tdx.close_ticket(s.tdx.ticket_id)
    await env.sleep(timedelta(days=1, minutes=1))
    final = await ended(handle)
    assert final.status == Status.complete
    assert [a.to_status for a in final.audits if a.action == "status"][-4:] == [
        "pending_itsm_existence",
        "pending_delivery",
        "installed",
        "complete",
    ]

    # Every customer email went to the delegate, never to the user.
    assert emails_to(sim, inp.ticket_id) == [
        ("invite", [DELEGATE["email"]]),
        ("mac_mdm_request", ["mac-engineering@example.edu"]),
        ("tracking", [DELEGATE["email"]]),
    ]
    assert sim.mail.find(to="jdoe@example.edu") == []
    assert [(e.template, e.to) for e in final.emails] == [
        ("invite", DELEGATE["email"]),
        ("mac_mdm_request", "mac-engineering@example.edu"),
        ("tracking", DELEGATE["email"]),
    ]
    await save_history(handle, "remote_delegate_complete")
