"""The README's "Try it" walk, in chromium, against `deskflow dev` itself.

The real `deskflow dev` (Temporal dev server, stand-ins, worker, web app) runs from a fresh
var/ in a temporary directory on its own ports (DESKFLOW_DEV_PORT_OFFSET), started the way a
script starts it: with SIGINT ignored. A newcomer's walk: the invite in the mailbox within a
minute, the customer's wizard, the approver, the order group, the customer's slot, "mark
installed" in the TDX stand-in, complete, with a restart of the whole stack midway. It
saves a screenshot per step in docs/try-it/ (the README shows them).

Runs in a lane of its own in the Makefile's QUIET step (beside tests that only wait, never in
the big -n 4 run): it starts a whole system and waits on real minutes (slot discovery runs
every minute under `deskflow dev`). Every wait is on a condition (the ticket's state through
the API, the mailbox, the page) with a deadline made for a loaded CI machine, never a fixed
sleep or the browser's 30 s default: the walk is slow when the machine is, and only wrong
when it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from operations.deployment_checks import new_codec_key
from starter.dev import DevPorts

ROOT = Path(__file__).resolve().parents[2]
# The README's screenshots are refreshed on request only; a plain run leaves the tree clean.
SHOTS = ROOT / ("docs" if os.environ.get("DESKFLOW_SCREENSHOTS") == "docs" else "test-output")
SHOTS = SHOTS / "try-it"
DESKFLOW = str(Path(sys.executable).with_name("deskflow"))
PASSWORD = "deskflow-dev"  # demo/reference.yaml
TICKET = "lsa-fy27-onprem.DEMO-LSA-002"  # Alan Smith's MacBook Air; approver jdoe
CUSTOMER = "asmith@example.edu"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Deadlines for one step on a loaded 2-core machine (seconds): a page's load or an element
# to appear, and the ticket reaching a state (the workflow's tasks wait for CPU too).
PAGE_WAIT = 90
STATE_WAIT = 180


def free_offset() -> int:
    """A DESKFLOW_DEV_PORT_OFFSET whose every port is free (another `deskflow dev` may run)."""
    for offset in range(21000, 40000, 700):
        ports = DevPorts.from_env({"DESKFLOW_DEV_PORT_OFFSET": str(offset)})
        try:
            for port in vars(ports).values():
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return offset
    raise RuntimeError("no free set of ports for deskflow dev")


@dataclass
class Stack:
    """One `deskflow dev` and where it listens; `start` again after `stop` reuses var/."""

    var: Path
    offset: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    banner_at: float = 0.0

    @property
    def ports(self) -> DevPorts:
        return DevPorts.from_env({"DESKFLOW_DEV_PORT_OFFSET": str(self.offset)})

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    @property
    def sim(self) -> str:
        return f"http://127.0.0.1:{self.ports.sim}"

    async def start(self) -> None:
        mark = self.log.stat().st_size if self.log.exists() else 0
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [DESKFLOW, "dev"],
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: every child is found at the end
            # As from a script run in the background: SIGINT ignored (inherited).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            text = self.log.read_bytes()[mark:].decode(errors="replace")
            if "deskflow is running." in text:
                self.banner_at = time.monotonic()
                return
            assert self.proc.poll() is None, f"deskflow dev exited: {text[-3000:]}"
            await asyncio.sleep(0.5)
        raise AssertionError("deskflow dev did not start in 300 s")

    async def stop(self, signum: int) -> None:
        """Stop by `signum`; every process of the stack must be gone."""
        assert self.proc is not None
        self.proc.send_signal(signum)
        await asyncio.to_thread(self.proc.wait, 60)
        for _ in range(60):
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            await asyncio.sleep(0.5)
        os.killpg(self.proc.pid, signal.SIGKILL)
        raise AssertionError(f"{signal.Signals(signum).name} left processes of deskflow dev")

    def kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)


def workflow_count(stack: Stack) -> int:
    """The demo's workflows (batches, tickets, slot generation) the stack's Temporal server
    holds, by its own CLI; the schedules' runs (discovery every minute) come and go."""
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("temporal")),
            "workflow",
            "count",
            "--address",
            f"127.0.0.1:{stack.ports.temporal}",
            "--query",
            'WorkflowType IN ("RefreshBatch", "RefreshTicket", "GenerateScheduleSlots")',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return int(re.search(r"Total: (\d+)", out).group(1))


@pytest.fixture
async def stack(tmp_path) -> AsyncIterator[Stack]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DESKFLOW_", "TEMPORAL_"))}
    offset = free_offset()
    env = {
        **keep,
        "DESKFLOW_DEV_PORT_OFFSET": str(offset),
        "DESKFLOW_DEV_VAR": str(tmp_path / "var"),
        "DESKFLOW_SECRET_KEY": "try-it-walk-secret-key-0123456789abcdef",
        "DESKFLOW_CODEC_KEYS": new_codec_key("walk1"),
        "DESKFLOW_AT_REST_KEYS": new_codec_key("walkrest1"),
    }
    s = Stack(var=tmp_path / "var", offset=offset, env=env, log=tmp_path / "deskflow-dev.log")
    try:
        yield s
    finally:
        s.kill()


class Walk:
    """The README's steps, each saving its screenshot when `shots` is set."""

    def __init__(self, stack: Stack, browser, shots: Path | None) -> None:
        self.stack, self.browser, self.shots = stack, browser, shots
        self.link = ""

    async def shot(self, page, name: str) -> None:
        if self.shots is not None:
            self.shots.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    async def page(self, viewport):
        context = await self.browser.new_context(viewport=viewport)
        context.set_default_timeout(PAGE_WAIT * 1000)
        context.set_default_navigation_timeout(PAGE_WAIT * 1000)
        page = await context.new_page()
        page.on("dialog", lambda d: d.accept())
        return page

    async def sign_in(self, username: str):
        page = await self.page(DESKTOP)
        await page.goto(f"{self.stack.web}/")
        await page.fill("#f-username", username)
        await page.fill("#f-password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_load_state()
        return page

    async def detail(self) -> dict:
        """`GET /api/tickets/TICKET`: the ticket's state and its pending activities."""
        async with httpx.AsyncClient(base_url=self.stack.web, timeout=30) as http:
            r = await http.post("/api/session", json={"username": "radmin", "password": PASSWORD})
            headers = {"Authorization": f"Bearer {r.json()['token']}"}
            r = await http.get(f"/api/tickets/{TICKET}", headers=headers)
            if r.status_code == 404:  # the app's row lags the workflow on a loaded machine
                not_yet = {"status": "not in the app's database yet", "invited_at": None}
                return {"state": not_yet, "pending_activities": []}
            r.raise_for_status()
            return r.json()

    async def state(self) -> dict:
        return (await self.detail())["state"]

    async def tdx_looked(self) -> None:
        """Wait until deskflow's daily look at TDX has found nothing new once (its next look is
        a day away): a change made in TDX before that first look is seen without *Check TDX
        now*, and the page would rightly show no such button."""
        deadline = time.monotonic() + STATE_WAIT
        while time.monotonic() < deadline:
            pending = (await self.detail())["pending_activities"]
            if any(p["activity"] == "tdx_delivery_progress" and p["last_failure"] for p in pending):
                return
            await asyncio.sleep(1)
        raise AssertionError(f"deskflow's look at TDX: not within {STATE_WAIT:.0f} s")

    async def until(self, check, what: str, timeout: float = STATE_WAIT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s = await self.state()
            if check(s):
                return s
            await asyncio.sleep(1)
        raise AssertionError(f"{what}: not within {timeout:.0f} s; the ticket is {s['status']}")

    async def invite_in_mailbox(self) -> float:
        """Seconds from the start of `deskflow dev` until the customer's invite is there."""
        url = f"{self.stack.sim}/mailbox/api/messages"
        deadline = time.monotonic() + STATE_WAIT
        async with httpx.AsyncClient(timeout=30) as http:
            while True:
                found = (
                    await http.get(url, params={"ticket": TICKET, "template": "invite"})
                ).json()
                if found or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
        assert found and found[0]["to"] == [CUSTOMER], found
        waited = time.monotonic() - self.stack.started_at
        self.link = next(w for w in found[0]["text"].split() if "/c/" in w)
        page = await self.page(DESKTOP)
        await page.goto(f"{self.stack.sim}/mailbox")
        await self.shot(page, "01-mailbox")
        return waited

    async def customer_wizard(self) -> None:
        # The mailbox has the invite the moment SMTP took it; the ticket records "invite
        # sent" (and offers the wizard) only once the send is marked in the database and
        # the workflow has handled its result, seconds later on a loaded machine. A page
        # opened in between rightly says the invite is still being set up, with no link.
        await self.until(
            lambda s: s["status"] == "pending_wizard" and s["invited_at"], "invite sent"
        )
        page = await self.page(PHONE)
        response = await page.goto(self.link)
        assert response is not None and response.ok, await page.inner_text("main")
        await self.shot(page, "02-customer-invited")
        await page.get_by_role("link", name="Start the Refresh Wizard").click()
        assert await page.input_value("#f-location") == "Mason Hall, 3300"
        await page.click("text=Next")
        await page.check("input[value='mac|Mac mini M4']")
        await self.shot(page, "03-wizard-device")
        for _ in range(3):  # peripherals, software, review
            await page.click("text=Next")
        assert "Mac mini M4" in await page.inner_text("main")
        await self.shot(page, "04-wizard-review")
        await page.click("text=Confirm and submit")
        await page.wait_for_selector("text=your answers are submitted")
        await self.until(lambda s: s["status"] == "pending_approval", "wizard submitted")

    async def approver_approves(self) -> None:
        page = await self.sign_in("jdoe")
        await page.goto(f"{self.stack.web}/approvals")
        await page.click(f"text={TICKET}")
        await page.fill("#approve-comment", "Fine by LSA")
        await self.shot(page, "05-approver")
        await page.click("button:has-text('Approve')")
        await page.wait_for_selector("text=Approved.")
        await self.until(lambda s: s["status"] == "pending_ordering", "approved")

    async def admin_assigns(self) -> None:
        page = await self.sign_in("radmin")
        row = page.locator(f"input[type=hidden][value='{TICKET}']")
        deadline = time.monotonic() + STATE_WAIT
        while True:  # listed once the workflow has written its projection
            await page.goto(f"{self.stack.web}/order-groups?batch=demo-lsa-fy27-onprem")
            if await row.count():
                break
            assert time.monotonic() < deadline, "not in the order group within the deadline"
            await asyncio.sleep(0.5)
        i = (await row.get_attribute("name")).removeprefix("ticket_")
        await page.fill(f"#serial_{i}", "DEMO-NEW-101")
        await page.select_option(f"#platform_{i}", "mac")
        await page.fill(f"#model_{i}", "MacBook Air 13-inch M3")
        await self.shot(page, "06-order-group")
        await page.click("button:has-text('Assign replacements')")
        await page.wait_for_selector("text=Assigned 1 replacement")
        assert await row.count() == 0  # not offered for a second assignment
        await self.shot(page, "07-assigned")

    async def customer_picks_a_slot(self) -> None:
        # Slot discovery offers times within a minute under `deskflow dev`.
        await self.until(
            lambda s: s["status"] == "pending_customer_scheduling",
            "slots offered",
            STATE_WAIT + 60,
        )
        page = await self.page(PHONE)
        await page.goto(self.link)
        await page.get_by_role("link", name="Pick an appointment time").click()
        await self.shot(page, "08-pick-slot")
        await page.locator("input[name=slot_id]").first.check()
        await page.click("text=Book this time")
        await page.wait_for_selector("text=Your appointment is booked")
        body = await page.inner_text("main")
        assert "You chose a Mac mini M4; we are sending a MacBook Air 13-inch M3" in body
        await self.shot(page, "09-booked")
        await self.until(
            lambda s: (
                s["status"] == "delivery_scheduled"
                and s["confirmed_version"] == s["schedule_version"]
            ),
            "appointment confirmed",
        )

    async def in_tdx(self, button: str) -> None:
        """What a technician does in TDX: from the staff ticket page's *TDX ticket* link, the
        TDX stand-in's own ticket page, and one of its buttons."""
        page = await self.sign_in("radmin")
        await page.goto(f"{self.stack.web}/tickets/{TICKET}")
        await page.click("a:has-text('TDX ticket')")
        await page.wait_for_load_state()
        assert "TicketDet" in page.url, page.url
        await page.click(f"button:has-text('{button}')")
        await page.wait_for_load_state()

    async def staff_checks_tdx(self, status: str, shot: str) -> None:
        page = await self.sign_in("radmin")
        await page.goto(f"{self.stack.web}/tickets/{TICKET}")
        await page.click("button:has-text('Check TDX now')")
        await page.wait_for_load_state()
        body = await page.inner_text("main")
        assert "deskflow is looking at TDX again" in body, body
        await self.until(lambda s: s["status"] == status, status)
        await page.goto(f"{self.stack.web}/tickets/{TICKET}")
        await self.shot(page, shot)

    async def installed_then_complete(self) -> None:
        await self.in_tdx("Mark “Deliver” complete")
        await self.staff_checks_tdx("installed", "10-installed")
        await self.tdx_looked()
        await self.in_tdx("Close ticket")
        await self.staff_checks_tdx("complete", "11-complete")
        page = await self.page(PHONE)
        await page.goto(self.link)
        assert "Complete" in await page.inner_text("main")
        await self.shot(page, "12-customer-complete")


async def test_the_readme_walk_from_make_run_to_complete_across_a_restart(stack, browser):
    """The whole walk, with a restart of the whole stack (SIGTERM) after the approval."""
    await stack.start()
    walk = Walk(stack, browser, SHOTS)
    waited = await walk.invite_in_mailbox()
    # Within a minute of `make run` being up (after migrations, servers and demo batches).
    assert time.monotonic() - stack.banner_at < 60, waited
    print(f"invite in the mailbox {waited:.1f} s after `deskflow dev` started")
    await walk.customer_wizard()
    await walk.approver_approves()
    async with httpx.AsyncClient(timeout=10) as http:
        tdx_before = (await http.get(f"{stack.sim}/_sim/tdx/tickets")).json()

    workflows = workflow_count(stack)
    await stack.stop(signal.SIGTERM)
    await stack.start()
    # Nothing started twice: no demo batch again, no second slot generation.
    assert workflow_count(stack) == workflows
    assert stack.log.read_text().count("no appointment slots yet") == 1
    async with httpx.AsyncClient(timeout=10) as http:
        tdx_after = (await http.get(f"{stack.sim}/_sim/tdx/tickets")).json()
    # The stand-ins remember: every TDX ticket a running refresh knows is still there.
    assert {t["ID"] for t in tdx_after} >= {t["ID"] for t in tdx_before}
    await walk.admin_assigns()
    await walk.customer_picks_a_slot()
    await walk.installed_then_complete()
    await stack.stop(signal.SIGINT)  # ignored by the script that started it, still honoured
