"""The after-hours pages over HTTP (in-process ASGI) on the test's Temporal clock: the intake
form says whether CPS is open and refuses a bad call next to its field; a good call opens the
case and shows the words to read out; the technician's link in the page acknowledges (the
stand-in's phone "answers" by following it); the leads' page shows the night."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from domain.after_hours import CaseStatus, Promise
from store.db import make_engine, session_factory
from store.reference import load_reference_file
from tests.after_hours.helpers import KEYS, case_until, local, minutes, move_to, until
from tests.web.helpers import BASE, login
from web.app import create_app
from web.config import WebSettings

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def agent_account(db_url: str) -> None:
    with session_factory(make_engine(db_url)).begin() as db:
        load_reference_file(HERE / "staff.yaml", db)


@pytest.fixture
async def web(env, worker, agent_account) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(worker, env.client, web_settings=WebSettings(_env_file=None, dev=True))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def on_test_clock(env, web, user: str = "agent") -> str:
    """The web app's clock at the test server's time, and a sign-in valid at that time (a
    session from days before on the app's clock has expired); its CSRF token."""
    now = await env.get_current_time()
    web.app.state.web.now = lambda: now
    return await login(web, user)


def form(csrf: str, **over: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf,
        "case_id": "AH-web1",
        "partner": "fpm",
        "caller.name": "Pat Caller",
        "caller.phone": "608-555-7777",
        "caller.email": "pat.caller@example.org",
        "description": "The building automation workstation will not boot.",
        "hd_solvable": "no",
        "personal_computer": "no",
        "critical": "yes",
    }
    data.update(over)
    return data


async def test_intake_refuses_then_opens_a_case_and_the_page_link_acknowledges(
    env, worker, sim, paging, web
):
    await move_to(env, sim, local(2026, 12, 9, 12))  # Wednesday noon: CPS is open
    csrf = await on_test_clock(env, web)
    page = await web.get("/after-hours")
    assert page.status_code == 200
    assert "CPS is open now: transfer the caller to CPS at 608-265-6900" in page.text
    assert "Facilities Planning &amp; Management — former AIMS (AIMS On-call Schedule)" in page.text
    assert "University Health Services — legacy DS (GDS On Call Schedule)" in page.text
    refused = await web.post("/after-hours", data=form(csrf))
    assert refused.status_code == 422 and "this is not an after-hours call" in refused.text

    await move_to(env, sim, local(2026, 12, 11, 22))
    csrf = await on_test_clock(env, web)
    page = await web.get("/after-hours")
    assert (
        "CPS is closed: after-hours handling applies. CPS opens Monday December 14 at 7:00 AM"
        in page.text
    )
    bad = await web.post("/after-hours", data=form(csrf, **{"caller.phone": "", "partner": "uhs"}))
    assert bad.status_code == 422
    assert 'id="err-caller-phone"' in bad.text or "caller.phone" in bad.text

    # The session's database keeps other tests' cases of this night: count from here.
    kept_before = _kept(await web.get("/after-hours/night", params={"day": "2026-12-11"}))
    sim.paging.set_phone(KEYS["alice"], "answer")  # Alice picks up and taps "Acknowledge"
    opened = await web.post("/after-hours", data=form(csrf), follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/after-hours/case/AH-web1"
    again = await web.post("/after-hours", data=form(csrf), follow_redirects=False)
    assert again.status_code == 303  # a double submit is the same case
    h = env.client.get_workflow_handle("after-hours-AH-web1")
    await case_until(h, lambda c: bool(c.pages), "paged")
    await until(lambda: _pages(sim), bool, "Alice's phone rang")
    link = next(lk["href"] for lk in sim.paging.pages()[0]["links"] if lk["text"] == "Acknowledge")
    assert link.startswith("http://deskflow.test/after-hours/r/")
    # The phone's tap goes to deskflow.test (not served here): do what it does, over ASGI.
    path = link.removeprefix("http://deskflow.test")
    confirm = await web.get(path)
    assert "I have it: stop paging" in confirm.text
    done = await web.post(path)
    assert done.status_code == 200 and "paging has stopped" in done.text
    s = await case_until(h, lambda c: c.acknowledged_by == "alice", "acknowledged via the link")
    forged = await web.post(re.sub(r"/r/[^/]+/", "/r/forged.token/", path))
    assert forged.status_code == 404

    case_page = await web.get("/after-hours/case/AH-web1")
    for line in s.read_out:
        assert line in case_page.text
    assert "Read this to the caller" in case_page.text

    await move_to(env, sim, local(2026, 12, 11, 22) + minutes(20))
    csrf = await on_test_clock(env, web)
    recorded = await web.post(
        "/after-hours/case/AH-web1/technician_contacted",
        data={"csrf_token": csrf, "by": "alice"},
        follow_redirects=False,
    )
    assert recorded.status_code == 303
    s = await case_until(h, lambda c: c.status == CaseStatus.contacted, "callback recorded")
    assert s.promise == Promise.kept
    night = await until(
        lambda: web.get("/after-hours/night", params={"day": "2026-12-11"}),
        lambda r: _kept(r) == kept_before + 1,
        "the night's page counts the promise kept",
    )
    assert "Pat Caller" in night.text and "Alice Aims" in night.text
    other = await web.get("/after-hours/night", params={"day": "2026-12-12"})
    assert "No after-hours case this night." in other.text


async def test_the_pages_need_the_help_desk_role(env, worker, sim, paging, web):
    await login(web, "refresher")
    r = await web.get("/after-hours")
    assert r.status_code == 403


def _kept(night: httpx.Response) -> int:
    found = re.search(r"Callback promises kept: (\d+)", night.text)
    assert found, "the night's page says how many promises were kept"
    return int(found.group(1))


async def _pages(sim) -> list:
    return sim.paging.pages()
