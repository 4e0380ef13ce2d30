"""The TDX stand-in's ticket page, at the TDNext URL deskflow links to, and its buttons."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from activities.tdx import TdxActivities
from activities.tdx_client import TdxClient
from sim.app import SimServer
from sim.tdx import STATUS_IN_PROCESS
from tests.sim.test_tdx_sim import BASE_TICKET
from tests.sim_settings import settings_for


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server


def deskflow_link(sim: SimServer, ticket_id: int) -> str:
    """The link deskflow's pages and emails give for a TDX ticket."""
    links = TdxActivities(settings_for(sim), None, None)  # type: ignore[arg-type]
    return links.ticket_url(ticket_id)


def buttons(page: str) -> dict[str, str]:
    """Button label -> the URL its form posts to."""
    return {
        html.unescape(label): html.unescape(action)
        for action, label in re.findall(
            r"<form method='post' action='([^']+)'><button>(.*?)</button>", page
        )
    }


async def test_ticket_page_shows_the_ticket_and_its_buttons_move_it(
    sim: SimServer, tdx_windows_forgotten: None
) -> None:
    # TDX's limits as the session set them, with no window an earlier test filled (here or
    # in the shared count in the app database): this test is about pages, not pacing.
    sim.tdx.configure_limits(window_seconds=60, limit=100_000, create_limit=100_000)
    sim.tdx.add_person("pat", UID="uid-pat-page", FullName="Pat Lee")
    settings = settings_for(sim)
    async with TdxClient.from_settings(settings, timeout=2.0, min_retry_after=timedelta(0)) as tdx:
        ticket = await tdx.create_ticket(
            BASE_TICKET
            | {
                "Title": "Computer refresh: SN-PAGE-1",
                "RequestorUid": "uid-pat-page",
                "StatusID": STATUS_IN_PROCESS,
            }
        )
        build = await tdx.create_task(ticket["ID"], {"Title": "Build", "Order": 1})
        deliver = await tdx.create_task(ticket["ID"], {"Title": "Deliver/Install", "Order": 2})
        await tdx.add_ticket_feed(ticket["ID"], "Day 1 scheduled for Tuesday.")

        async with httpx.AsyncClient(follow_redirects=True) as http:
            page = await http.get(deskflow_link(sim, ticket["ID"]))
            assert page.status_code == 200
            text = html.unescape(page.text)
            for shown in (
                f"Ticket {ticket['ID']}: Computer refresh: SN-PAGE-1",
                "In Process",
                "Pat Lee <pat@example.edu>",
                "Build",
                "Deliver/Install",
                "Day 1 scheduled for Tuesday.",
            ):
                assert shown in text, shown
            actions = buttons(page.text)
            assert set(actions) == {
                "Mark “Build” complete",
                "Mark “Deliver/Install” complete",
                "Close ticket",
            }

            installed = await http.post(sim.http_url + actions["Mark “Deliver/Install” complete"])
            assert installed.status_code == 200 and str(installed.url).endswith(
                f"TicketID={ticket['ID']}"
            )
            assert "Mark “Deliver/Install” complete" not in buttons(installed.text)
            # What deskflow's delivery check reads: the task is 100% complete.
            assert (await tdx.get_task(ticket["ID"], deliver["ID"]))["PercentComplete"] == 100
            assert (await tdx.get_task(ticket["ID"], build["ID"]))["PercentComplete"] == 0

            # A task id that is not one of the ticket's comes back as text, never as markup.
            forged = buttons(installed.text)["Close ticket"].replace("/Close?", "/CompleteTask?")
            odd = await http.post(f"{sim.http_url}{forged}&TaskID=<script>alert(1)</script>")
            assert odd.status_code == 404 and "<script>" not in odd.text
            assert "has no task &lt;script&gt;" in odd.text

            closed = await http.post(sim.http_url + buttons(installed.text)["Close ticket"])
            assert "Closed" in closed.text and buttons(closed.text) == {}
            assert (await tdx.get_ticket(ticket["ID"]))["StatusName"] == "Closed"

            listing = await http.get(f"{sim.http_url}/_sim/tdx/console")
            assert html.escape(deskflow_link(sim, ticket["ID"]).removeprefix(sim.http_url)) in (
                listing.text
            )


async def test_unknown_ticket_is_a_404_in_words(sim: SimServer) -> None:
    async with httpx.AsyncClient() as http:
        for wanted in ("999999", "abc"):
            missing = await http.get(
                deskflow_link(sim, 0).replace("TicketID=0", f"TicketID={wanted}")
            )
            assert missing.status_code == 404
            assert "text/html" in missing.headers["content-type"]
            assert f"There is no ticket {wanted}" in missing.text
