"""Staff sessions end on the server: sign-out, a new password, a disabled account (issue 8.12).
Password guessing is throttled per account and per client address (issue 8.13)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from domain.reference_data import ReferenceData, StaffSpec
from store.db import make_engine, session_factory
from store.reference import load_reference_data
from tests.web.helpers import PASSWORD, bearer, login

DESKFLOW = str(Path(sys.executable).with_name("deskflow"))


def put_staff(db_url: str, username: str, password: str, disabled: bool | None = None) -> None:
    """Load one staff account as `deskflow load` would."""
    spec = StaffSpec(
        username=username,
        name=f"Test {username}",
        email=f"{username}@example.edu",
        roles=["refresh_manager"],
        password=password,
        disabled=disabled,
    )
    with session_factory(make_engine(db_url)).begin() as db:
        load_reference_data(ReferenceData(staff=[spec]), db)


async def token_of(web, username: str, password: str) -> dict[str, str]:
    r = await web.post("/api/session", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    web.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def me(web, auth: dict[str, str]) -> int:
    return (await web.get("/api/me", headers=auth)).status_code


async def test_api_sign_out_ends_the_token_at_once(web):
    auth = await bearer(web, "manager")
    other = await bearer(web, "manager")  # another device of the same person
    assert await me(web, auth) == 200
    assert (await web.delete("/api/session", headers=auth)).status_code == 204
    assert await me(web, auth) == 401
    r = await web.get("/api/tickets", headers=auth)
    assert r.status_code == 401
    assert await me(web, other) == 200  # signing out ends this session only


async def test_page_sign_out_ends_the_cookie_even_if_kept(web):
    await login(web, "admin")
    kept = web.cookies.get("deskflow_session")
    page = await web.get("/tickets")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = await web.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    web.cookies.set("deskflow_session", kept)  # a copied cookie is refused too
    r = await web.get("/tickets", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert await me(web, {"Authorization": f"Bearer {kept}"}) == 401


async def test_new_password_and_disabled_account_end_every_session(web, db_url):
    put_staff(db_url, "sess-user", "first-password")
    auth = await token_of(web, "sess-user", "first-password")
    assert await me(web, auth) == 200

    put_staff(db_url, "sess-user", "second-password")  # reloaded with a new password
    assert await me(web, auth) == 401
    auth = await token_of(web, "sess-user", "second-password")
    put_staff(db_url, "sess-user", "second-password")  # same file again: nothing ends
    assert await me(web, auth) == 200

    put_staff(db_url, "sess-user", "second-password", disabled=True)
    assert await me(web, auth) == 401
    r = await web.post(
        "/api/session", json={"username": "sess-user", "password": "second-password"}
    )
    assert r.status_code == 401


async def test_deskflow_staff_commands_end_sessions(web, worker):
    put_staff(worker.database_url, "cli-user", "first-password")
    auth = await token_of(web, "cli-user", "first-password")
    env = {**os.environ, "DESKFLOW_DATABASE_URL": worker.database_url}

    async def deskflow(*args: str, answer: str = "") -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            DESKFLOW,
            "staff",
            *args,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate(answer.encode())
        return proc.returncode, out.decode()

    code, out = await deskflow("disable", "cli-user")
    assert code == 0 and "1 session(s) ended" in out
    assert await me(web, auth) == 401
    code, out = await deskflow("enable", "cli-user")
    assert code == 0
    auth = await token_of(web, "cli-user", "first-password")
    code, out = await deskflow("password", "cli-user", answer="third-password\n" * 2)
    assert code == 0 and "1 session(s) ended" in out, out
    assert await me(web, auth) == 401
    await token_of(web, "cli-user", "third-password")
    code, out = await deskflow("disable", "nobody-here")
    assert code == 1 and "no staff account 'nobody-here'" in out


# ----- throttle -------------------------------------------------------------------------


def fake_clock(web) -> list[float]:
    now = [1000.0]
    web.app.state.web.login_throttle.clock = lambda: now[0]
    return now


async def attempt(web, username: str, password: str):
    return await web.post("/api/session", json={"username": username, "password": password})


async def test_guessing_one_account_is_throttled_even_for_the_right_password(web):
    now = fake_clock(web)
    for _ in range(5):
        assert (await attempt(web, "admin", "guess")).status_code == 401
        now[0] += 1
    r = await attempt(web, "admin", PASSWORD)
    assert r.status_code == 429
    wait = int(r.headers["retry-after"])
    assert 290 <= wait <= 300
    assert r.json()["detail"] == f"too many failed sign-ins; try again in {wait} s"
    assert r.json()["field"] == "password"
    # Other accounts are not locked out by someone guessing this one.
    assert (await attempt(web, "manager", PASSWORD)).status_code == 200

    # The login form says the same, in words.
    web.cookies.clear()
    form = await web.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = await web.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token}
    )
    assert r.status_code == 429 and "Too many failed sign-ins; try again in" in r.text
    assert r.headers["retry-after"]

    now[0] += wait
    assert (await attempt(web, "admin", PASSWORD)).status_code == 200


async def test_guessing_many_accounts_from_one_address_is_throttled(web):
    now = fake_clock(web)
    for n in range(20):
        assert (await attempt(web, f"someone{n}", "guess")).status_code == 401
    r = await attempt(web, "manager", PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) == 300
    now[0] += 301
    assert (await attempt(web, "manager", PASSWORD)).status_code == 200
