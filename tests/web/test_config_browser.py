"""Browser tests of the config editor and single tickets: real chromium against the app on
uvicorn, tickets run by the real worker on the time-skipping server, TDX by its stand-in.

Screenshots land in test-output/screenshots/ (config-*, single-ticket-*).
"""

from __future__ import annotations

from domain.refresh import Status
from tests.web.browser import shot
from tests.web.helpers import invited
from tests.web.test_browser import error_next_to, live, sign_in  # noqa: F401 (fixtures)
from tests.web.test_config_tickets import seed_tdx
from tests.web.test_configs import IDS
from tests.workflows.helpers import reach, settle, ticket_input


async def fill_config(page, config_id: str) -> None:
    await page.fill("#f-id", config_id)
    await page.fill("#f-name", "History dept. refresh")
    await page.fill("#f-org", "LSA")
    await page.select_option("#f-default_style", "on_prem")
    await page.check("#f-requires_approval")
    await page.fill("#f-approvers", "appr1, Ada Approver\n")  # no email: refused
    await page.check("#f-options-can_customize_computer")
    await page.check("#f-options-can_customize_software")
    await page.fill(
        "#f-approved_models",
        "LSA, windows, Dell Latitude 7450\nLSA, windows, Dell Precision 3590\n"
        "LSA, mac, MacBook Air 13 M4",
    )
    await page.fill("#f-proposed_models-windows", "HP EliteBook 840")  # not approved: refused
    await page.fill("#f-proposed_models-mac", "MacBook Air 13 M4")
    await page.fill("#f-peripheral_bundle", "Dock WD22TB4")
    await page.fill("#f-peripheral_catalog", "Dock WD22TB4\nHeadset H5")
    await page.fill("#f-software_catalog", "MATLAB\nSPSS")
    await page.fill("#f-unit_location", "Room 1")  # an on-prem config has none: refused
    await page.fill("#f-prestage_group", "LSA-Refresh-2027")


async def test_admin_creates_and_edits_a_config_and_managers_only_read_it(
    browser,  # noqa: F811
    live,  # noqa: F811
    env,
    worker,
):
    config_id = f"cfg-browser-{next(IDS)}"
    page = await sign_in(browser, live, "admin")
    await page.goto(f"{live}/configs")
    await page.click("text=New refresh config")
    await fill_config(page, config_id)
    await page.click("text=Create the config")
    # As `deskflow load` does: the shape of each field first, then the rules across fields.
    assert "line 1: email: Field required" in await error_next_to(page, "approvers")
    await shot(page, "config-01-new-approver-without-email")
    await page.fill("#f-approvers", "appr1, Ada Approver, appr1@example.edu")
    await page.click("text=Create the config")
    assert "not an approved windows model" in await error_next_to(page, "proposed_models.windows")
    assert "only unit_location configs" in await error_next_to(page, "unit_location")
    await shot(page, "config-02-new-cross-field-errors")
    await page.fill("#f-proposed_models-windows", "Dell Latitude 7450")
    await page.fill("#f-unit_location", "")
    await page.click("text=Create the config")
    await page.wait_for_url(f"{live}/configs/{config_id}?saved=1")
    text = await page.inner_text("main")
    assert "version 1" in text and "Version 1: admin" in text and "Ada Approver" in text
    await shot(page, "config-03-created")

    # A ticket runs under it, waiting for approval.
    inp = ticket_input("on_prem", config_id)
    [handle] = await invited(env, worker, inp)
    await handle.execute_update(
        "submit_wizard",
        {
            "location": "Angell Hall, 2001",
            "device": {"model": "Dell Latitude 7450", "platform": "windows"},
        },
    )
    await settle(handle, Status.pending_approval)

    # Edit the approvers: the preview says what it reaches before anything is saved.
    await page.click("text=Edit this config")
    await page.fill("#f-approvers", "appr2, Other Approver, appr2@example.edu")
    await page.fill("#f-software_catalog", "MATLAB\nSPSS\nStata")
    await page.click("text=Preview the effect")
    impact = page.locator("#impact")
    await impact.wait_for()
    approvers = impact.locator("tr[data-field=approvers]")
    assert "every running ticket" in await approvers.inner_text()
    assert await approvers.locator(".count").inner_text() == "1"
    assert await impact.locator("tr[data-field=software_catalog] .count").inner_text() == "1"
    await shot(page, "config-04-edit-preview")
    await page.click("text=Save version 2")
    await page.wait_for_url(f"{live}/configs/{config_id}?saved=1")
    v2 = page.locator("section.version[data-version='2']")
    text = await v2.inner_text()
    assert "Version 2: admin" in text and "appr1@example.edu" in text and "appr2" in text
    await shot(page, "config-05-history")

    # The ticket's page names the config version each of its steps acted under.
    await page.goto(f"{live}/tickets/{inp.ticket_id}")
    assert await page.locator("td.config-version a").first.inner_text() == "v1"

    # A Refresh Manager reads the config and its history, and has no editor.
    manager = await sign_in(browser, live, "manager")
    await manager.goto(f"{live}/configs/{config_id}")
    text = await manager.inner_text("main")
    assert "Read only" in text and "Version 2: admin" in text
    assert await manager.locator("text=Edit this config").count() == 0
    await shot(manager, "config-06-manager-read-only")
    r = await manager.goto(f"{live}/configs/{config_id}/edit")
    assert r.status == 403
    r = await manager.goto(f"{live}/new-ticket")
    assert r.status == 403


async def test_admin_creates_one_ticket_from_a_serial(
    browser,  # noqa: F811
    live,  # noqa: F811
    env,
    worker,
    sim,
):
    seed_tdx(sim, "SOLO222")  # a system of its own: the database lives for the session
    page = await sign_in(browser, live, "admin")
    await page.click("text=New ticket")
    await page.fill("#f-serial", "NOSUCH42")
    await page.select_option("#f-config_id", "med-remote")
    await page.click("text=Look up and create the ticket")
    assert "unknown serial" in await error_next_to(page, "serial")
    await shot(page, "single-ticket-01-unknown-serial")
    await page.fill("#f-serial", "NOOWNER7")
    await page.click("text=Look up and create the ticket")
    assert "no owner in TDX" in await error_next_to(page, "serial")
    await page.fill("#f-serial", "SOLO222")
    await page.select_option("#f-style", "on_prem")
    await page.fill("#f-delegate_name", "Del Egate")
    await page.fill("#f-delegate_email", "del@example.edu")
    await page.click("text=Look up and create the ticket")
    await page.wait_for_url(f"{live}/tickets/med-remote.SOLO222")
    handle = env.client.get_workflow_handle("refresh-med-remote.SOLO222")
    s = await reach(handle, Status.pending_invite)
    assert s.user.name == "Kim Owner" and s.delegate.email == "del@example.edu"
    await page.reload()
    text = await page.inner_text("main")
    assert "Kim Owner" in text and "Waiting to invite the customer" in text
    await shot(page, "single-ticket-02-created")
    # The same system again: refused, it already has its ticket.
    await page.goto(f"{live}/new-ticket")
    await page.fill("#f-serial", "solo222")
    await page.select_option("#f-config_id", "med-remote")
    await page.click("text=Look up and create the ticket")
    assert "already running for solo222" in await error_next_to(page, "serial")
    await shot(page, "single-ticket-03-already-running")
