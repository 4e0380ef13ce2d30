"""Helpers of the web tests: sign in, customer links, tickets brought to their invite."""

from __future__ import annotations

from datetime import timedelta

import httpx

from domain.customer_links import sign
from domain.refresh import RefreshTicketInput, Status
from domain.settings import Settings
from tests.workflows.helpers import local, move_clock_to, settle, start, until

PASSWORD = "test-password"
BASE = "https://deskflow.test"


async def login(client: httpx.AsyncClient, username: str) -> str:
    """Sign in through the API; the session cookie is kept by the client. Returns the CSRF token."""
    r = await client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


async def bearer(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def link_token(settings: Settings, ticket_id: str, email: str) -> str:
    return sign(settings.secret_key.get_secret_value(), ticket_id, email)


async def invited(env, settings: Settings, *inputs: RefreshTicketInput):
    """Start tickets on a Monday afternoon and move to their invite: pending_wizard."""
    now = await env.get_current_time()
    if now < local(2027, 3, 1, 14, 0):
        await move_clock_to(env, local(2027, 3, 1, 14, 0))
    handles = [await start(env, settings, i) for i in inputs]
    for h in handles:
        await until(h, lambda s: s.setup_done and s.invite_at, "setup")
    s = await until(handles[-1], lambda s: s.invite_at is not None, "invite time")
    when = max(s.invite_at, await env.get_current_time())
    await env.sleep(when - await env.get_current_time() + timedelta(seconds=5))
    for h in handles:
        await settle(h, Status.pending_wizard)
    return handles


async def to_customer_scheduling(
    env, settings: Settings, sim, handle, *, serial: str, slot_ids: list[int], approver=None
):
    """From a submitted wizard to pending_customer_scheduling, through the contract."""
    from tests.workflows.helpers import offers, reach

    if approver:
        await reach(handle, Status.pending_approval)
        await handle.execute_update("approve", {"approver": approver})
    await reach(handle, Status.pending_ordering)
    sim.tdx.add_asset(serial)
    await handle.signal(
        "assign_replacement",
        {"replacement": {"serial": serial, "platform": "windows", "model": "Dell Latitude 7450"}},
    )
    await reach(handle, Status.pending_slot_discovery)
    await handle.signal("slots_available", offers(settings, *slot_ids))
    return await settle(handle, Status.pending_customer_scheduling)


def invite_link(sim, ticket_id: str, base: str) -> str:
    """The customer link from the ticket's invite email, pointed at `base`."""
    [invite] = sim.mail.find(ticket=ticket_id, template="invite")
    link = next(w for w in invite.text.split() if "/c/" in w)
    return base + link[link.index("/c/") :]
