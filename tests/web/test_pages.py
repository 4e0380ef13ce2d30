"""Staff forms over plain HTTP: CSRF, the action, the error next to its field."""

from __future__ import annotations

import re

from domain.refresh import Status, TicketState
from tests.web.helpers import invited, login
from tests.workflows.helpers import reach, ticket_input


async def test_staff_forms_need_csrf_and_show_errors_by_their_field(web, env, worker):
    inp = ticket_input("on_prem", "lsa-onprem")
    [handle] = await invited(env, worker, inp)
    url = f"/tickets/{inp.ticket_id}"

    csrf = await login(web, "manager")
    page = await web.get(url)
    assert page.status_code == 200 and "Waiting for the customer&#39;s choices" in page.text
    assert re.search(rf'name="csrf_token" value="{re.escape(csrf)}"', page.text)
    assert "Cancel ticket" not in page.text  # a Refresh Administrator's action

    r = await web.post(f"{url}/hold", data={"reason": "dept move"})
    assert r.status_code == 403 and "security token" in r.text
    r = await web.post(f"{url}/hold", data={"reason": "x" * 2001, "csrf_token": csrf})
    assert r.status_code == 422
    assert re.search(r'id="err-reason">String should have at most 2000 characters', r.text)
    r = await web.post(f"{url}/hold", data={"reason": "dept move", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"{url}?done=hold"
    assert "The ticket is on hold." in (await web.get(r.headers["location"])).text
    await reach(handle, Status.on_hold)
    r = await web.post(f"{url}/hold", data={"csrf_token": csrf})
    assert r.status_code == 409 and "cannot be put on hold" in r.text
    r = await web.post(f"{url}/cancel", data={"reason": "dup", "csrf_token": csrf})
    assert r.status_code == 403

    web.cookies.clear()
    csrf = await login(web, "admin")
    r = await web.post(f"{url}/cancel", data={"csrf_token": csrf})
    assert r.status_code == 422 and 'id="err-reason">Field required' in r.text
    r = await web.post(f"{url}/edit", data={"delegate.email": "nope", "delegate.name": "D"})
    assert r.status_code == 403
    r = await web.post(
        f"{url}/edit", data={"delegate.email": "nope", "delegate.name": "D", "csrf_token": csrf}
    )
    # On hold the edit form is not offered, so the error is in the page's error summary.
    assert r.status_code == 422 and 'href="#f-delegate-email">value is not a valid email' in r.text


async def test_login_form_and_sign_out(web):
    r = await web.get("/tickets", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/tickets"
    form = await web.get("/login?next=/tickets")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    bad = {"username": "admin", "password": "wrong", "csrf_token": token, "next": "/tickets"}
    r = await web.post("/login", data=bad)
    assert r.status_code == 401 and "Wrong username or password" in r.text
    form = await web.get("/login?next=//evil.example")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    good = {"username": "admin", "password": "test-password", "csrf_token": token}
    r = await web.post("/login", data={**good, "next": "//evil.example"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
    page = await web.get("/tickets")
    assert page.status_code == 200 and "Sign out admin" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = await web.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert (await web.get("/tickets", follow_redirects=False)).status_code == 303


async def test_confirm_sends_the_answers_and_shows_the_validators_refusal_by_its_field(
    web, env, worker
):
    """Confirm reads nothing first: what the workflow refuses comes back under its field."""
    from tests.web.helpers import link_token
    from web.security import WIZARD_COOKIE
    from web.wizard import READY

    inp = ticket_input("on_prem", "lsa-onprem")
    [handle] = await invited(env, worker, inp)
    tok = link_token(worker, inp.ticket_id, "jdoe@example.edu")
    tokens = web.app.state.web.tokens
    csrf = {"csrf_token": tokens.customer_csrf(tok)}
    # The review page keeps the answers it showed; here, software LSA does not offer.
    review = (await web.get(f"/c/{tok}/wizard/review")).cookies[WIZARD_COOKIE]
    assert READY in tokens.load_draft(review, inp.ticket_id)
    bad = {READY: {"location": "Angell Hall, 2001", "software": ["Photoshop 1990"]}}
    web.cookies.set(WIZARD_COOKIE, tokens.dump_draft(inp.ticket_id, bad), path="/c/")
    r = await web.post(f"/c/{tok}/wizard/review", data=csrf)
    assert r.status_code == 422
    error = re.search(r'id="err-software">([^<]+)<', r.text)
    assert error and "Photoshop 1990" in error.group(1)
    assert (await handle.query("state", result_type=TicketState)).wizard_submitted is False

    web.cookies.set(WIZARD_COOKIE, review, path="/c/")
    r = await web.post(f"/c/{tok}/wizard/review", data=csrf)
    assert r.status_code == 303 and r.headers["location"].endswith("?done=wizard")
    s = await reach(handle, Status.pending_approval)
    assert s.wizard_submitted and s.location == "Angell Hall, 2001"


async def test_confirm_by_a_link_to_an_address_the_ticket_no_longer_names_is_refused(
    web, env, worker
):
    """Confirm reads no database first: the ticket itself refuses a link to a replaced
    delegate, and records whose link it was when it takes one."""
    from tests.web.helpers import link_token

    delegate = {"name": "Del Egate", "email": "Del@Example.edu"}
    inp = ticket_input("on_prem", "lsa-onprem", delegate=delegate)
    [handle] = await invited(env, worker, inp)
    csrf = web.app.state.web.tokens.customer_csrf
    old = link_token(worker, inp.ticket_id, "del@example.edu")
    assert (await web.get(f"/c/{old}/wizard/review")).status_code == 200
    await handle.execute_update(
        "edit", {"actor": "admin", "role": "refresh_admin", "remove_delegate": True}
    )
    r = await web.post(f"/c/{old}/wizard/review", data={"csrf_token": csrf(old)})
    assert r.status_code == 404 and "not valid any more" in r.text
    assert (await handle.query("state", result_type=TicketState)).wizard_submitted is False

    web.cookies.clear()
    user = link_token(worker, inp.ticket_id, "jdoe@example.edu")
    assert (await web.get(f"/c/{user}/wizard/review")).status_code == 200
    r = await web.post(f"/c/{user}/wizard/review", data={"csrf_token": csrf(user)})
    assert r.status_code == 303
    s = await reach(handle, Status.pending_approval)
    assert [a.actor for a in s.audits if a.action == "wizard submitted"] == [
        "customer:jdoe@example.edu"
    ]
