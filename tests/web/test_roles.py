"""Every route x every role: allowed where seed 001 "Access" allows it, refused elsewhere.

Identities: anonymous, the ticket's customer (its signed link), a link to the ticket made out
to someone else ("another customer's link"), an expired link, an approver of the ticket's
config, an approver of another config, a Refresh Manager, a Refresh Administrator and a
Schedule Slot Admin. "Refused" is 401/403/404, or for an anonymous page request the redirect
to the login form (`/login?next=...`). "Allowed" is anything else: requests that would change
something carry a body the action refuses (422/409), so the table can run in any order.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from unittest import mock
from urllib.parse import urlsplit

import httpx
import pytest

from domain.customer_links import sign
from store.db import make_engine, session_factory
from store.slot_preferences import add_preference
from tests.web.helpers import BASE, PASSWORD, invited
from tests.workflows.helpers import add_slot, local, ticket_input
from web.app import create_app
from web.config import WebSettings

ANON, CUSTOMER, OTHER_LINK, EXPIRED = "anonymous", "customer", "other-link", "expired-link"
APPROVER, OTHER_APPROVER = "approver", "other-approver"
MANAGER, ADMIN, SLOT_ADMIN = "manager", "admin", "slot-admin"
STAFF_LOGINS = {
    APPROVER: "appr1",
    OTHER_APPROVER: "appr2",
    MANAGER: "manager",
    ADMIN: "admin",
    SLOT_ADMIN: "slotadmin",
}
EVERYONE = {ANON, CUSTOMER, OTHER_LINK, EXPIRED, *STAFF_LOGINS}
STAFF = set(STAFF_LOGINS)
VIEW = {MANAGER, ADMIN, SLOT_ADMIN}
MANAGE = {MANAGER, ADMIN}
SLOTS = {MANAGER, ADMIN, SLOT_ADMIN}
RUNS = itertools.count()
LONG = "x" * 2001  # over every reason/comment limit: the action refuses it (422)

# (method, path, kind, body, allowed). kind: "page" (form + session cookie + CSRF field),
# "api" (JSON + bearer token), "public". {t} ticket, {tok} the identity's link token,
# {b} batch, {slot}/{slot2} throwaway slots, {pref}/{pref2} throwaway preferences.
ROUTES: list[tuple[str, str, str, dict | None, set[str]]] = [
    ("GET", "/login", "public", None, EVERYONE),
    ("GET", "/docs", "public", None, EVERYONE),
    ("GET", "/redoc", "public", None, EVERYONE),
    ("GET", "/login/oidc", "public", None, set()),  # single sign-on is not configured: 404
    ("POST", "/login", "public", {"username": "x"}, set()),  # no login-form CSRF cookie: 403
    ("GET", "/openapi.json", "public", None, EVERYONE),
    ("GET", "/healthz", "public", None, EVERYONE),
    ("POST", "/api/session", "public", {"username": ""}, EVERYONE),
    # customers
    ("GET", "/c/{tok}", "customer", None, {CUSTOMER}),
    ("GET", "/c/{tok}/wizard/location", "customer", None, {CUSTOMER}),
    ("POST", "/c/{tok}/wizard/location", "customer", {"location": ""}, {CUSTOMER}),
    ("POST", "/c/{tok}/wizard/review", "customer", {}, {CUSTOMER}),
    ("GET", "/c/{tok}/slots", "customer", None, {CUSTOMER}),
    ("POST", "/c/{tok}/slots", "customer", {"slot_id": "x"}, {CUSTOMER}),
    ("GET", "/api/c/{tok}", "customer-api", None, {CUSTOMER}),
    ("POST", "/api/c/{tok}/wizard", "customer-api", {"location": ""}, {CUSTOMER}),
    ("GET", "/api/c/{tok}/slots", "customer-api", None, {CUSTOMER}),
    ("POST", "/api/c/{tok}/slot", "customer-api", {"slot_id": 0}, {CUSTOMER}),
    # staff pages
    ("GET", "/", "page", None, STAFF),
    ("POST", "/logout", "page", {}, STAFF),
    ("GET", "/tickets", "page", None, VIEW),
    # provisioning intake (seed 000): none of the refresh roles; its own roles are checked
    # route by route in tests/provisioning/test_web.py
    ("GET", "/provisioning", "page", None, set()),
    ("GET", "/provisioning/compliance", "page", None, set()),
    ("POST", "/provisioning/1/reveal", "page", {"field": "domain_password"}, set()),
    ("GET", "/api/provisioning/compliance", "api", None, set()),
    ("POST", "/api/provisioning/1/reveal", "api", {"field": "domain_password"}, set()),
    ("GET", "/problems", "page", None, VIEW),
    ("GET", "/tickets/{t}", "page", None, VIEW),
    ("POST", "/tickets/{t}/provide_location", "page", {}, MANAGE),
    ("POST", "/tickets/{t}/hold", "page", {"reason": LONG}, MANAGE),
    ("POST", "/tickets/{t}/release", "page", {}, MANAGE),
    ("POST", "/tickets/{t}/send_invite_now", "page", {"reason": LONG}, MANAGE),
    ("POST", "/tickets/{t}/check_tdx_now", "page", {}, MANAGE),
    ("POST", "/tickets/{t}/reschedule", "page", {"slot_id": "x"}, MANAGE),
    ("POST", "/tickets/{t}/trigger_customer_reschedule", "page", {"reason": LONG}, MANAGE),
    ("POST", "/tickets/{t}/cancel", "page", {}, {ADMIN}),
    ("POST", "/tickets/{t}/exchange_replacement", "page", {}, {ADMIN}),
    ("POST", "/tickets/{t}/set_tracking", "page", {"tracking_number": "x"}, {ADMIN}),
    ("POST", "/tickets/{t}/edit", "page", {"delegate.email": "nope"}, {ADMIN}),
    ("GET", "/approvals", "page", None, {APPROVER, OTHER_APPROVER}),
    ("GET", "/approvals/{t}", "page", None, {APPROVER}),
    ("POST", "/approvals/{t}/approve", "page", {"comment": "ok"}, {APPROVER}),
    ("POST", "/approvals/{t}/reject", "page", {"comment": "no"}, {APPROVER}),
    ("POST", "/approvals/{t}/request_change", "page", {"description": "more RAM"}, {APPROVER}),
    ("POST", "/approvals/{t}/edit", "page", {"delegate.email": "nope"}, {APPROVER}),
    ("GET", "/batches", "page", None, {ADMIN}),
    ("POST", "/batches/preview", "page", {"batch_id": "b"}, {ADMIN}),
    ("POST", "/batches", "page", {"batch_id": ""}, {ADMIN}),
    ("GET", "/batches/{b}", "page", None, {ADMIN}),
    ("GET", "/order-groups", "page", None, {ADMIN}),
    ("POST", "/order-groups", "page", {"rows": "0"}, {ADMIN}),
    ("GET", "/bulk/reschedule", "page", None, {ADMIN}),
    ("POST", "/bulk/reschedule", "page", {}, {ADMIN}),
    ("GET", "/configs", "page", None, MANAGE),
    ("GET", "/configs/lsa-onprem", "page", None, MANAGE),
    # The config editor and single tickets: Refresh Administrators only (bodies refused: 422).
    ("GET", "/configs/new", "page", None, {ADMIN}),
    ("POST", "/configs/new", "page", {"id": ""}, {ADMIN}),
    ("GET", "/configs/lsa-onprem/edit", "page", None, {ADMIN}),
    ("POST", "/configs/lsa-onprem/edit", "page", {"edited_version": "x"}, {ADMIN}),
    ("GET", "/new-ticket", "page", None, {ADMIN}),
    ("POST", "/new-ticket", "page", {"serial": "!"}, {ADMIN}),
    ("GET", "/slots", "page", None, SLOTS),
    ("GET", "/slots?team=nit-central", "page", None, SLOTS),
    ("GET", "/teams/nit-central/slots.ics", "page", None, SLOTS),
    ("POST", "/slots/{slot}/delete", "page", {}, {SLOT_ADMIN}),
    ("POST", "/teams/nit-north/preferences", "page", {"weekday": "9"}, {SLOT_ADMIN}),
    ("POST", "/teams/nit-north/preferences/{pref}/delete", "page", {}, {SLOT_ADMIN}),
    # JSON API
    ("GET", "/api/me", "api", None, STAFF),
    ("DELETE", "/api/session", "api", None, STAFF),
    ("GET", "/api/tickets", "api", None, VIEW),
    ("GET", "/api/problems", "api", None, VIEW),
    ("GET", "/api/tickets/{t}", "api", None, VIEW),
    ("POST", "/api/tickets/{t}/provide_location", "api", {"bogus": 1}, MANAGE),
    ("POST", "/api/tickets/{t}/hold", "api", {"bogus": 1}, MANAGE),
    ("POST", "/api/tickets/{t}/release", "api", {"bogus": 1}, MANAGE),
    ("POST", "/api/tickets/{t}/send_invite_now", "api", {"bogus": 1}, MANAGE),
    ("POST", "/api/tickets/{t}/check_tdx_now", "api", {}, MANAGE),
    ("POST", "/api/tickets/{t}/reschedule", "api", {"bogus": 1}, MANAGE),
    ("POST", "/api/tickets/{t}/trigger_customer_reschedule", "api", {"bogus": 1}, MANAGE),
    ("POST", "/api/tickets/{t}/cancel", "api", {"bogus": 1}, {ADMIN}),
    ("POST", "/api/tickets/{t}/exchange_replacement", "api", {"bogus": 1}, {ADMIN}),
    ("POST", "/api/tickets/{t}/set_tracking", "api", {"bogus": 1}, {ADMIN}),
    # Approver routes check the ticket's config after the body, so these bodies are valid:
    # each is refused by the workflow for the ticket's status (409), never carried out.
    ("POST", "/api/tickets/{t}/approve", "api", {"comment": ""}, {APPROVER}),
    ("POST", "/api/tickets/{t}/reject", "api", {"comment": "no"}, {APPROVER}),
    ("POST", "/api/tickets/{t}/request_change", "api", {"description": "more RAM"}, {APPROVER}),
    (
        "POST",
        "/api/tickets/{t}/edit",
        "api",
        {
            "shipping_address": {
                "name": "A",
                "line1": "1 Main",
                "city": "X",
                "state": "MI",
                "postal_code": "48109",
            }
        },
        {APPROVER, ADMIN},
    ),
    ("GET", "/api/approvals", "api", None, {APPROVER, OTHER_APPROVER}),
    ("GET", "/api/batches", "api", None, {ADMIN}),
    ("POST", "/api/batches/preview", "api", {"csv": ""}, {ADMIN}),
    ("POST", "/api/batches", "api", {}, {ADMIN}),
    ("GET", "/api/batches/{b}", "api", None, {ADMIN}),
    ("GET", "/api/order-groups", "api", None, {ADMIN}),
    ("POST", "/api/order-groups/assign", "api", {}, {ADMIN}),
    ("POST", "/api/order-groups/assign-csv", "api", {}, {ADMIN}),
    ("POST", "/api/bulk/reschedule", "api", {}, {ADMIN}),
    ("POST", "/api/bulk/hold", "api", {}, MANAGE),
    ("POST", "/api/bulk/release", "api", {}, MANAGE),
    ("GET", "/api/configs", "api", None, MANAGE),
    ("GET", "/api/configs/lsa-onprem", "api", None, MANAGE),
    ("GET", "/api/configs/lsa-onprem/history", "api", None, MANAGE),
    ("POST", "/api/configs", "api", {"id": ""}, {ADMIN}),
    ("PUT", "/api/configs/lsa-onprem", "api", {"config": {}}, {ADMIN}),
    ("POST", "/api/configs/lsa-onprem/impact", "api", {"config": {}}, {ADMIN}),
    ("POST", "/api/single-tickets", "api", {"serial": "!"}, {ADMIN}),
    ("GET", "/api/single-tickets/lookup?serial=!", "api", None, {ADMIN}),
    ("GET", "/api/teams", "api", None, SLOTS),
    ("GET", "/api/teams/nit-central/slots", "api", None, SLOTS),
    ("GET", "/api/teams/nit-central/preferences", "api", None, SLOTS),
    ("DELETE", "/api/slots/{slot2}", "api", None, {SLOT_ADMIN}),
    ("POST", "/api/teams/nit-north/preferences", "api", {"weekday": 9}, {SLOT_ADMIN}),
    ("PATCH", "/api/teams/nit-north/preferences/{pref2}", "api", {"capacity": 0}, {SLOT_ADMIN}),
    ("DELETE", "/api/teams/nit-north/preferences/{pref3}", "api", None, {SLOT_ADMIN}),
    ("POST", "/codec/decode", "api", {"payloads": []}, STAFF),
    ("POST", "/codec/encode", "api", {"payloads": []}, STAFF),
]


def expired_token(settings, ticket_id: str, email: str) -> str:
    old = (local(2027, 1, 1) - timedelta(days=200)).timestamp()
    with mock.patch("itsdangerous.timed.time.time", return_value=old):
        return sign(settings.secret_key.get_secret_value(), ticket_id, email)


def refused(r: httpx.Response) -> bool:
    if r.status_code in (401, 403, 404):
        return True
    if r.status_code not in (302, 303):
        return False
    target = urlsplit(r.headers["location"])
    return target.path == "/login" and target.query.startswith("next=")


@pytest.fixture
async def world(env, worker, sim, staff_users):
    inp = ticket_input("on_prem", "lsa-onprem")
    await invited(env, worker, inp)
    tid = inp.ticket_id
    secret = worker.secret_key.get_secret_value()
    tokens = {
        CUSTOMER: sign(secret, tid, "jdoe@example.edu"),
        OTHER_LINK: sign(secret, tid, "someone.else@example.edu"),
        EXPIRED: expired_token(worker, tid, "jdoe@example.edu"),
    }
    n = next(RUNS)  # the database lives for the whole session: fresh rows per use
    sessions = session_factory(make_engine(worker.database_url))
    with sessions.begin() as db:
        prefs = [
            add_preference(
                db,
                "nit-north",
                {
                    "weekday": day,
                    "start": f"{12 + n}:00",
                    "length_minutes": 30,
                    "capacity": 1,
                    "location": f"Roles room {n}",
                },
            ).id
            for day in (1, 3, 4)
        ]
    ids = {
        "t": tid,
        "slot": add_slot(worker, "nit-central", local(2027, 5, 4 + 7 * n, 9, 0)),
        "slot2": add_slot(worker, "nit-central", local(2027, 5, 6 + 7 * n, 9, 0)),
        "pref": prefs[0],
        "pref2": prefs[1],
        "pref3": prefs[2],
    }
    # The app as seen from a non-loopback address: the dev codec shortcut does not apply.
    app = create_app(worker, env.client, web_settings=WebSettings(_env_file=None, dev=True))
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    clients = {}
    for who in EVERYONE:
        client = httpx.AsyncClient(transport=transport, base_url=BASE)
        client.who, client.csrf, client.auth_header = who, "", {}
        if who in STAFF_LOGINS:
            await sign_in(client)
        clients[who] = client
    admin = clients[ADMIN]
    r = await admin.post(
        "/api/batches",
        json={"config_id": "lab-loaners", "batch_id": "roles-b", "csv": "serial\nNOSUCH1\n"},
        headers=admin.auth_header,
    )
    assert r.status_code == 201, r.text
    ids["b"] = "roles-b"
    yield ids, tokens, clients, app
    for c in clients.values():
        await c.aclose()


async def sign_in(client: httpx.AsyncClient) -> None:
    """A new session for the client: its cookie, CSRF token and bearer token."""
    r = await client.post(
        "/api/session", json={"username": STAFF_LOGINS[client.who], "password": PASSWORD}
    )
    client.csrf = r.json()["csrf_token"]
    client.auth_header = {"Authorization": f"Bearer {r.json()['token']}"}


SIGN_OUTS = {("POST", "/logout"), ("DELETE", "/api/session")}


async def test_every_route_for_every_role(world):
    ids, tokens, clients, app = world
    forged = "not-a-real-link"
    problems = []
    for method, path, kind, body, allowed in ROUTES:
        for who, client in sorted(clients.items()):
            url = path.format(tok=tokens.get(who, forged), **ids)
            headers, kwargs = {}, {}
            if kind in ("api", "customer-api"):
                headers = dict(client.auth_header)
                if body is not None:
                    kwargs["json"] = body
            elif kind == "page":
                if method != "GET":
                    kwargs["data"] = {**(body or {}), "csrf_token": client.csrf}
            elif kind == "customer":
                if method != "GET":
                    tok = tokens.get(who, forged)
                    csrf = app.state.web.tokens.customer_csrf(tok)
                    kwargs["data"] = {**(body or {}), "csrf_token": csrf}
            elif body is not None:
                kwargs["json"] = body
            # Pages keep the session cookie; API calls carry only the bearer token.
            cookies = client.cookies if kind == "page" else httpx.Cookies()
            send = httpx.AsyncClient(
                transport=client._transport, base_url=BASE, cookies=cookies, follow_redirects=False
            )
            async with send:
                r = await send.request(method, url, headers=headers, **kwargs)
            expected = who in allowed
            if refused(r) == expected or r.status_code >= 500:
                problems.append(f"{method} {path} as {who}: {r.status_code} {r.text[:160]!r}")
            if (method, path) in SIGN_OUTS and who in STAFF_LOGINS:
                await sign_in(client)  # signing out ended the session on the server
    assert not problems, "\n".join(problems)


async def test_customer_links_open_only_their_own_ticket(world, env, worker):
    ids, tokens, clients, _ = world
    other = ticket_input("on_prem", "lsa-onprem", team="nit-north")
    await invited(env, worker, other)
    theirs = sign(worker.secret_key.get_secret_value(), other.ticket_id, "jdoe@example.edu")
    client = clients[ANON]
    mine = (await client.get(f"/api/c/{tokens[CUSTOMER]}")).json()
    assert mine["ticket_id"] == ids["t"]
    assert (await client.get(f"/api/c/{theirs}")).json()["ticket_id"] == other.ticket_id
    # A link is bound to its ticket and address: tampering breaks the signature.
    tampered = tokens[CUSTOMER][:-3] + ("AAA" if not tokens[CUSTOMER].endswith("AAA") else "BBB")
    assert (await client.get(f"/api/c/{tampered}")).status_code == 404
    r = await client.get(f"/api/c/{tokens[EXPIRED]}")
    assert r.status_code == 403 and "expired" in r.json()["detail"]
    r = await client.get(f"/c/{tokens[EXPIRED]}")
    assert r.status_code == 403 and "latest email" in r.text
    # Staff sessions do not open customer pages without the link, nor the reverse.
    assert (await client.get("/tickets", follow_redirects=False)).status_code == 303


def test_the_table_covers_every_route():
    """A route added to the app without a row here fails this test."""
    from starlette.routing import Route

    from web import api, auth, codec, pages_approver, pages_customer, pages_staff

    samples = {"tok": "TOKEN", "t": "T1", "b": "B1", "slot": 1, "slot2": 2}
    samples |= {"pref": 1, "pref2": 2, "pref3": 3}
    table = [(m, p.format(**samples).split("?")[0]) for m, p, *_ in ROUTES]
    routers = (api, auth, codec, pages_approver, pages_customer, pages_staff)
    missing = []
    served = [r for m in routers for r in m.router.routes] + pages_customer.routes
    for route in [r for r in served if isinstance(r, Route)]:
        for method in route.methods - {"HEAD"}:
            if not any(m == method and route.path_regex.match(p) for m, p in table):
                missing.append(f"{method} {route.path}")
    assert not missing, missing
