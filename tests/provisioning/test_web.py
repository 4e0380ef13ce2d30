"""Exhibit A on the web: the page in a real browser (errors under their fields, the audited
reveal), the JSON API (field errors, roles), and the route × role rules of provisioning."""

from __future__ import annotations

import httpx

from domain.provisioning import Status
from tests.itsm.helpers import local, move_to
from tests.provisioning.helpers import (
    ALEX_EMAIL,
    CASEY,
    CAT_8B,
    DOMAIN_PASSWORD,
    exhibit,
    handle,
    update,
    wait_halo,
    wait_state,
)
from tests.web.browser import shot

PASSWORDS = {u: f"{u}-password" for u in ("pat", "casey", "sam", "alex", "morgan")}


async def ticket_for_alex(env, sim) -> int:
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Laptop for Dana", category_1=CAT_8B)
    h = handle(env, t["id"])
    await wait_state(h, lambda s: s.status is not None, "intake")
    await update(
        h,
        "assign",
        {"by": CASEY.model_dump(), "analyst": "alex", "analyst_email": ALEX_EMAIL},
    )
    return t["id"]


async def bearer(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await http.post(
        "/api/session", json={"username": username, "password": PASSWORDS[username]}
    )
    assert r.status_code == 200, r.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_api_exhibit_a_reveal_gauge_and_roles(env, halo, sim, settings):
    tid = await ticket_for_alex(env, sim)
    async with httpx.AsyncClient(base_url=halo) as http:
        alex, casey, pat, morgan = [
            await bearer(http, u) for u in ("alex", "casey", "pat", "morgan")
        ]
        url = f"/api/provisioning/{tid}"
        bad = exhibit(by_when="2026-11-20", serial_number="x", inventory_type="Bought", battery="")
        r = await http.post(f"{url}/submit_details", json={"details": bad}, headers=alex)
        assert r.status_code == 422
        fields = {e["field"]: e["message"] for e in r.json()["errors"]}
        assert set(fields) == {"by_when", "serial_number", "inventory_type", "battery"}
        assert "after today" in fields["by_when"] and "required" in fields["battery"]
        r = await http.post(
            f"{url}/submit_details", json={"details": exhibit(by_when="2026-12-12")}, headers=alex
        )
        assert r.status_code == 422 and "business day" in r.json()["errors"][0]["message"]

        r = await http.post(f"{url}/submit_details", json={"details": exhibit()}, headers=pat)
        assert r.status_code == 403, "Procurement does not fill Exhibit A"
        r = await http.post(f"{url}/submit_details", json={"details": exhibit()}, headers=alex)
        assert r.status_code == 200, r.text
        assert r.json()["details"]["passwords_recorded"] is True
        assert DOMAIN_PASSWORD not in r.text
        await wait_halo(sim, tid, lambda t: len(t["customfields"]) == 14, "custom fields")

        r = await http.post(
            f"{url}/log_time",
            json={"hours": 1, "work_type": "SD – Remote support – BH"},
            headers=alex,
        )
        assert r.status_code == 422 and r.json()["field"] == "work_type"
        assert "SD" in r.json()["detail"]

        r = await http.post(f"{url}/reveal", json={"field": "domain_password"}, headers=casey)
        assert r.status_code == 403, "the Care Team cannot reveal"
        r = await http.post(f"{url}/reveal", json={"field": "domain_password"}, headers=alex)
        assert r.json() == {"field": "domain_password", "value": DOMAIN_PASSWORD}
        assert r.headers["cache-control"] == "no-store"
        r = await http.get(url, headers=alex)
        assert r.status_code == 200 and DOMAIN_PASSWORD not in r.text

        r = await http.get("/api/provisioning/compliance?month=2026-12", headers=alex)
        assert r.status_code == 403
        r = await http.get("/api/provisioning/compliance?month=2026-13", headers=morgan)
        assert r.status_code == 422 and r.json()["field"] == "month"
        r = await http.get("/api/provisioning/compliance?month=2026-12", headers=morgan)
        assert r.status_code == 200 and r.json()["metric"]["month"] == "2026-12"


ROUTES = [
    ("GET", "/provisioning", {"pat", "casey", "sam", "alex", "morgan"}),
    ("GET", "/provisioning/compliance", {"morgan"}),
    ("GET", "/api/provisioning/compliance", {"morgan"}),
    ("POST", "/api/provisioning/1001/reveal", {"sam", "alex"}),
    ("POST", "/api/provisioning/1001/request_close", {"pat", "casey", "sam", "alex"}),
]


async def test_routes_by_role(env, halo, sim):
    """Who may reach each provisioning route (403 for the others; any other answer means the
    role check let them through)."""
    await ticket_for_alex(env, sim)
    async with httpx.AsyncClient(base_url=halo) as http:
        tokens = {u: await bearer(http, u) for u in PASSWORDS}
        for method, path, allowed in ROUTES:
            for user, headers in tokens.items():
                r = await http.request(method, path, headers=headers, json={"field": "x"})
                assert (r.status_code != 403) == (user in allowed), (method, path, user, r.text)


async def test_exhibit_a_page_shows_errors_under_fields_and_audits_the_reveal(
    browser, env, halo, sim
):
    tid = await ticket_for_alex(env, sim)
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(f"{halo}/provisioning/{tid}")
    assert "/login" in page.url
    await page.fill("#f-username", "alex")
    await page.fill("#f-password", PASSWORDS["alex"])
    await page.click("button[type=submit]")
    await page.wait_for_url(f"**/provisioning/{tid}")

    values = exhibit(serial_number="??", by_when="2026-12-12")
    for name, value in values.items():
        if name in ("ac_adapter", "battery", "media_sanitation", "inventory_type"):
            continue
        await page.fill(f"#exhibit-a #f-{name}", value)
    await page.select_option("#f-ac_adapter", "yes")
    await page.select_option("#f-media_sanitation", "no")
    await page.select_option("#f-inventory_type", "New CIT")
    await page.click("#exhibit-a button[type=submit]")
    assert "business day" in await page.inner_text("#err-by_when")
    assert "Computer S/N" in await page.inner_text("#err-serial_number")
    assert "required" in await page.inner_text("#err-battery")
    assert await page.input_value("#f-employee_name") == "Dana Scully", "kept what was typed"
    assert await page.input_value("#f-domain_password") == "", "a password is never put back"
    assert DOMAIN_PASSWORD not in await page.content()
    await shot(page, "provisioning_exhibit_a_errors")

    await page.fill("#f-by_when", "2026-12-18")
    await page.fill("#f-serial_number", "7XK2-9QF3")
    await page.select_option("#f-battery", "yes")
    for name in ("domain_password", "m365_password"):
        await page.fill(f"#f-{name}", values[name])
    await page.click("#exhibit-a button[type=submit]")
    await page.wait_for_url(f"**/provisioning/{tid}?saved=1")
    assert "passwords are recorded" in await page.content()
    s = await wait_state(handle(env, tid), lambda s: s.details is not None, "details")
    assert s.status == Status.provisioning

    await page.click("text=Reveal the Domain password (audited)")
    assert DOMAIN_PASSWORD in await page.inner_text("#revealed")
    assert "alex · password revealed (Domain password)" in await page.inner_text("#audits")
    await shot(page, "provisioning_reveal")
