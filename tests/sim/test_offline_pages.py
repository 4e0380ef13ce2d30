"""Every stand-in page works offline: nothing in the served HTML comes from another host."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from activities.tdx_client import TdxClient
from sim.app import SimServer
from tests.sim.test_smtp_sim import email_for, send
from tests.sim.test_tdx_sim import BASE_TICKET
from tests.sim_settings import settings_for

URL = re.compile(r"""(?:https?:)?//([\w.\-\[\]:]+)""")
HREF = re.compile(r"""href=["']([^"'#]+)["']""")
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}


def foreign_hosts(page: str) -> set[str]:
    """Hosts other than loopback that the page names in a URL (a CDN script, a font, ...)."""
    return {
        host
        for host in URL.findall(page)
        if host.rsplit(":", 1)[0] not in LOOPBACK and not host.startswith("[::1]")
    }


async def test_no_stand_in_page_loads_anything_from_another_host() -> None:
    async with SimServer() as sim:
        await send(sim, email_for("pat@example.edu", "T-1", "invite"))
        async with TdxClient.from_settings(
            settings_for(sim), timeout=2.0, min_retry_after=timedelta(0)
        ) as tdx:
            ticket = await tdx.create_ticket(BASE_TICKET | {"Title": "Refresh"})
            await tdx.create_task(ticket["ID"], {"Title": "Deliver/Install"})
        app_id = ticket["AppID"]
        # Crawl the pages from the index (and the pages deskflow links to), link by link.
        todo = [
            "/",
            f"/TDNext/Apps/{app_id}/Tickets/TicketDet?TicketID={ticket['ID']}",
            f"/TDNext/Apps/{app_id}/Tickets/TicketDet?TicketID=1",
        ]
        seen: set[str] = set()
        async with httpx.AsyncClient(base_url=sim.http_url) as http:
            while todo:
                path = todo.pop()
                if path in seen:
                    continue
                seen.add(path)
                page = await http.get(path)
                assert page.status_code in (200, 404), path
                if "text/html" not in page.headers["content-type"]:
                    continue  # JSON controls linked from the index
                assert foreign_hosts(page.text) == set(), path
                todo += [link for link in HREF.findall(page.text) if link.startswith("/")]
            assert {"/_sim/docs", "/mailbox", "/mailbox/1", "/_sim/tdx/console"} <= seen
            assert {"/_sim/halo", "/_sim/servicenow", "/_sim/pagerduty"} <= seen
            docs = await http.get("/_sim/docs")
            for route in ("/TDWebApi/api/{app_id}/tickets", "/_sim/tdx/faults", "/slack/api"):
                assert route in docs.text
