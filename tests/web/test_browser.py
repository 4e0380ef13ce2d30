"""Browser tests: real chromium against the app served by uvicorn in this test's event loop,
on tickets run by the real worker on the time-skipping test server, with the stand-ins.

Customers use a phone-sized window; staff a desktop one. Every page visited is saved under
test-output/screenshots/.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from domain.refresh import Status
from tests.web.browser import shot
from tests.web.helpers import (
    PASSWORD,
    invite_link,
    invited,
    to_customer_scheduling,
)
from tests.workflows.helpers import add_slot, local, reach, settle, state, ticket_input, until
from web.app import create_app
from web.config import WebSettings
from web.embedded import serve

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
async def live(env, worker, staff_users) -> AsyncIterator[str]:
    app = create_app(worker, env.client, web_settings=WebSettings(_env_file=None, dev=True))
    async with serve(app) as base:
        yield base


async def new_page(browser, viewport):
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    page.on("dialog", lambda d: d.accept())
    return page


async def sign_in(browser, base: str, username: str, screenshot: str | None = None):
    page = await new_page(browser, DESKTOP)
    await page.goto(f"{base}/")
    assert "/login" in page.url
    await page.fill("#f-username", username)
    await page.fill("#f-password", PASSWORD)
    if screenshot:
        await shot(page, screenshot)
    await page.click("button[type=submit]")
    return page


async def error_next_to(page, field: str) -> str:
    """The error text shown right under the input `field`."""
    el = page.locator(f"#err-{field.replace('.', '-')}")
    await el.wait_for()
    return await el.inner_text()


async def test_customers_walk_the_wizard_for_each_style_pick_a_slot_and_approver_approves(
    browser, live, env, worker, sim
):
    onprem = ticket_input("on_prem", "lsa-onprem")
    remote = ticket_input(
        "remote",
        "med-remote",
        platform="mac",
        delegate={"name": "Del Egate", "email": "del@example.edu"},
    )
    unit = ticket_input("unit_location", "eng-unit")
    h_onprem, h_remote, h_unit = await invited(env, worker, onprem, remote, unit)

    # --- on-prem: location prefilled from TDX, edited; an error shows next to the field.
    page = await new_page(browser, PHONE)
    await page.goto(invite_link(sim, onprem.ticket_id, live))
    await shot(page, "customer-onprem-01-status")
    await page.get_by_role("link", name="Start the Refresh Wizard").click()
    assert await page.input_value("#f-location") == "Angell Hall, 2001"
    await shot(page, "customer-onprem-02-location")
    await page.fill("#f-location", "")
    await page.click("text=Next")
    assert "building and room" in await error_next_to(page, "location")
    assert await page.get_attribute("#f-location", "aria-invalid") == "true"
    await shot(page, "customer-onprem-03-location-error")
    await page.fill("#f-location", "Mason Hall, 3300")
    await page.click("text=Next")
    await page.check("input[value='windows|Dell Precision 3590']")
    await shot(page, "customer-onprem-04-device")
    await page.click("text=Next")
    await page.check("input[name=peripherals][value='Headset H5']")
    await shot(page, "customer-onprem-05-peripherals")
    await page.click("text=Next")
    await page.check("input[name=software][value=MATLAB]")
    await shot(page, "customer-onprem-06-software")
    await page.click("text=Next")
    review = await page.inner_text("main")
    assert "Mason Hall, 3300" in review and "Dell Precision 3590" in review and "MATLAB" in review
    await shot(page, "customer-onprem-07-review")
    await page.click("text=Confirm and submit")
    await page.wait_for_selector("text=your answers are submitted")
    await shot(page, "customer-onprem-08-submitted")
    s = await reach(h_onprem, Status.pending_approval)
    assert s.location == "Mason Hall, 3300" and s.device.model == "Dell Precision 3590"
    assert s.software == ["MATLAB"] and "Headset H5" in s.peripherals

    # --- remote, by the delegate's link: address validated, 'not adequate' needs a reason.
    page = await new_page(browser, PHONE)
    link = invite_link(sim, remote.ticket_id, live)
    assert sim.mail.find(ticket=remote.ticket_id, template="invite")[0].addressed_to(
        "del@example.edu"
    )
    await page.goto(link + "/wizard/location")
    await page.fill("#f-shipping_address-line1", "500 S State St")
    await page.fill("#f-shipping_address-city", "Ann Arbor")
    await page.fill("#f-shipping_address-state", "ZZ")
    await page.fill("#f-shipping_address-postal_code", "4810")
    await page.click("text=Next")
    assert "ZIP code" in await error_next_to(page, "shipping_address.postal_code")
    assert "US state" in await error_next_to(page, "shipping_address.state")
    await shot(page, "customer-remote-01-address-errors")
    await page.fill("#f-shipping_address-state", "mi")
    await page.fill("#f-shipping_address-postal_code", "48109")
    await page.click("text=Next")
    await page.check("input[name=device_inadequate]")
    await page.click("text=Next")
    assert "tell us" in await error_next_to(page, "device_comment")
    await page.fill("#f-device_comment", "I need 32 GB of memory for imaging work")
    await shot(page, "customer-remote-02-device")
    await page.click("text=Next")
    await shot(page, "customer-remote-03-peripherals-bundle")
    await page.click("text=Next")
    await page.click("text=Next")
    await shot(page, "customer-remote-04-review")
    await page.click("text=Confirm and submit")
    await page.wait_for_selector("text=your answers are submitted")
    s = await reach(h_remote, Status.pending_ordering)
    assert s.shipping_address.state == "MI" and s.device.none_adequate
    assert any(a.actor == "delegate:del@example.edu" for a in s.audits)

    # --- unit location: nothing to enter, the unit's location is shown.
    page = await new_page(browser, PHONE)
    await page.goto(invite_link(sim, unit.ticket_id, live) + "/wizard/location")
    assert "Duderstadt Center, room 1180" in await page.inner_text("main")
    await shot(page, "customer-unit-01-location")
    for _ in range(4):
        await page.click("text=Next")
    await page.click("text=Confirm and submit")
    await page.wait_for_selector("text=your answers are submitted")
    await reach(h_unit, Status.pending_ordering)

    # --- the approver approves the on-prem ticket.
    approver = await sign_in(browser, live, "appr1", "approver-01-login")
    await page_wait(approver, "/approvals")
    await shot(approver, "approver-02-list")
    await approver.click(f"text={onprem.ticket_id}")
    await approver.fill("#approve-comment", "Fine by LSA")
    await shot(approver, "approver-03-ticket")
    await approver.click("button:has-text('Approve')")
    await approver.wait_for_selector("text=Approved.")
    await shot(approver, "approver-04-approved")
    s = await reach(h_onprem, Status.pending_ordering)
    assert s.approved_by == "appr1"

    # --- replacements, TDX, discovery (through the contract), then customers pick slots.
    slots = [
        add_slot(worker, "nit-central", local(2027, 3, 9, 9, 0)),
        add_slot(worker, "nit-central", local(2027, 3, 11, 13, 0)),
    ]
    for h, serial in ((h_onprem, "NEWWEB01"), (h_unit, "NEWWEB02")):
        await to_customer_scheduling(env, worker, sim, h, serial=serial, slot_ids=slots)
    for ticket, h, name in ((onprem, h_onprem, "onprem"), (unit, h_unit, "unit")):
        page = await new_page(browser, PHONE)
        await page.goto(invite_link(sim, ticket.ticket_id, live))
        await shot(page, f"customer-{name}-09-pick-prompt")
        await page.get_by_role("link", name="Pick an appointment time").click()
        await shot(page, f"customer-{name}-10-slots")
        await page.check(f"input[name=slot_id][value='{slots[0]}']")
        await page.click("text=Book this time")
        await page.wait_for_selector("text=Your appointment is booked")
        body = await page.inner_text("main")
        assert "Tue Mar 9, 2027 9:00 AM" in body
        if name == "unit":
            assert "Duderstadt Center, room 1180" in body
        await shot(page, f"customer-{name}-11-booked")
        s = await until(h, lambda s: s.confirmed_version == 1, "confirmation")
        assert s.status == Status.delivery_scheduled and s.slot.slot_id == slots[0]


async def page_wait(page, path: str) -> None:
    await page.wait_for_url(re.compile(re.escape(path) + r"(\?.*)?$"))


async def test_admin_uploads_a_batch_and_assigns_replacements(browser, live, env, worker, sim):
    sim.tdx.add_person(
        "lab1", UID="uid-lab1", FullName="Lab Manager", PrimaryEmail="lab1@example.edu"
    )
    for serial in ("LAB0001", "LAB0002"):
        sim.tdx.add_asset(
            serial, OwningCustomerID="uid-lab1", SupportingDepartmentName="nit-central"
        )
    admin = await sign_in(browser, live, "admin", "admin-01-login")
    await page_wait(admin, "/tickets")
    await shot(admin, "admin-02-tickets")
    await admin.click("nav >> text=Batches")
    await admin.select_option("#f-config_id", "lab-loaners")
    await admin.fill("#f-batch_id", "web-lab-1")
    await admin.set_input_files(
        "#f-file",
        files=[
            {
                "name": "lab.csv",
                "mimeType": "text/csv",
                "buffer": b"serial\nLAB0001\nLAB0002\nbad serial!\n",
            }
        ],
    )
    await shot(admin, "admin-03-batch-upload")
    await admin.click("text=Preview")
    preview = await admin.inner_text("main")
    assert "2 rows to look up" in preview and "malformed row" in preview
    await shot(admin, "admin-04-batch-preview")
    await admin.click("text=Create batch and start")
    await page_wait(admin, "/batches/web-lab-1")
    await admin.wait_for_selector("[data-field=state]:has-text('done')", timeout=20000)
    await shot(admin, "admin-05-batch-progress")
    started = sorted(await admin.locator("main li a").all_inner_texts())
    assert started == ["lab-loaners.LAB0001", "lab-loaners.LAB0002"]

    await admin.click("text=Assign replacements")
    for _ in range(50):  # a new ticket is listed once its workflow has written its projection
        if await admin.locator("#serial_1").count():
            break
        await asyncio.sleep(0.1)
        await admin.reload()
    for i, serial in enumerate(("LABNEW1", "LABNEW2")):
        await admin.fill(f"#serial_{i}", serial)
    await shot(admin, "admin-06-order-group")
    await admin.click("button:has-text('Assign replacements')")
    await admin.wait_for_selector("text=Assigned 2 replacements")
    # The assigned tickets are not offered for a second assignment.
    assert await admin.locator("#serial_0").count() == 0
    await shot(admin, "admin-07-assigned")
    for tid in started:
        s = await until(
            env.client.get_workflow_handle(f"refresh-{tid}"),
            lambda s: s.status == Status.pending_itsm_existence,
            "itsm",
        )
        assert s.replacement_system.serial.startswith("LABNEW")

    # The ticket page: state, audits, links to TDX and the Temporal Web UI.
    await admin.goto(f"{live}/tickets/{started[0]}")
    body = await admin.inner_text("main")
    assert "Waiting for the new computer to appear in TDX" in body
    assert "replacement assigned" in body and "pending_itsm_existence" not in body
    # Events read as sentences whose TDX ticket is a link, never a dict's text.
    assert "TDX refresh ticket created: TDX ticket" in body and "{'" not in body
    tdx_link = admin.locator("main td a", has_text="TDX ticket").first
    assert "/TDNext/Apps/" in await tdx_link.get_attribute("href")
    href = await admin.get_attribute("text=Workflow in Temporal Web UI", "href")
    assert href.endswith(f"/namespaces/default/workflows/refresh-{started[0]}")
    await shot(admin, "admin-08-ticket")
    await admin.goto(f"{live}/problems")
    assert started[0] in await admin.inner_text("main")
    await shot(admin, "admin-09-problems")


async def test_slot_admin_deletes_a_booked_slot_and_the_customer_is_asked_to_reschedule(
    browser, live, env, worker, sim
):
    inp = ticket_input("unit_location", "eng-unit")
    [handle] = await invited(env, worker, inp)
    await handle.execute_update("submit_wizard", {})
    first = add_slot(worker, "nit-central", local(2027, 3, 16, 9, 0))
    second = add_slot(worker, "nit-central", local(2027, 3, 18, 13, 0))
    await to_customer_scheduling(
        env, worker, sim, handle, serial="NEWWEB03", slot_ids=[first, second]
    )
    await handle.execute_update("pick_slot", {"slot_id": first})
    await until(handle, lambda s: s.confirmed_version == 1, "booked")

    slots_admin = await sign_in(browser, live, "slotadmin")
    await page_wait(slots_admin, "/tickets")
    await slots_admin.goto(f"{live}/slots?team=nit-central&start=2027-03-15")
    assert inp.ticket_id in await slots_admin.inner_text("main")
    await shot(slots_admin, "slotadmin-01-calendar")
    ics = await slots_admin.get_attribute("text=/slots.ics", "href")
    assert "/teams/nit-central/slots.ics?key=" in ics
    await slots_admin.click("button[aria-label^='Delete slot Tue Mar 16, 2027']")
    await slots_admin.wait_for_selector("text=1 customer(s) asked to reschedule")
    await shot(slots_admin, "slotadmin-02-deleted")

    s = await settle(handle, Status.pending_customer_scheduling)
    assert s.slot is None
    page = await new_page(browser, PHONE)
    await page.goto(invite_link(sim, inp.ticket_id, live))
    await page.wait_for_selector("text=Please pick a new appointment time")
    await shot(page, "customer-reschedule-01-prompt")
    await page.get_by_role("link", name="Pick an appointment time").click()
    assert "no longer available" in await page.inner_text("main")
    await page.check(f"input[name=slot_id][value='{second}']")
    await shot(page, "customer-reschedule-02-slots")
    await page.click("text=Book this time")
    await page.wait_for_selector("text=Your appointment is booked")
    await shot(page, "customer-reschedule-03-booked")
    s = await until(
        handle,
        lambda s: s.slot and s.slot.slot_id == second and s.confirmed_version == s.schedule_version,
        "rebooked",
    )
    assert (await state(handle)).status == Status.delivery_scheduled
