"""The stand-ins keep their data in files under a data dir (var/ for `make run`): a restart
changes nothing a running ticket sees, and numbering goes on where it stopped."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx

from activities.slack_client import SlackClient
from activities.tdx_client import TdxClient
from sim.app import SimServer
from tests.sim.test_smtp_sim import email_for, send
from tests.sim.test_tdx_sim import BASE_TICKET, login
from tests.sim_settings import settings_for


def tdx_client(sim: SimServer) -> TdxClient:
    return TdxClient.from_settings(settings_for(sim), timeout=2.0, min_retry_after=timedelta(0))


async def test_tdx_tickets_tasks_feeds_and_ids_survive_a_restart(
    tmp_path: Path, tdx_windows_forgotten: None
) -> None:
    # (The client counts TDX's windows in the session's database: start with none filled.)
    async with SimServer(data_dir=str(tmp_path)) as first:
        first.tdx.add_person("pat", UID="uid-pat", FullName="Pat Lee")
        asset = first.tdx.add_asset("SN-OLD-1", OwningCustomerID="uid-pat")
        async with tdx_client(first) as tdx:
            ticket = await tdx.create_ticket(
                BASE_TICKET | {"Title": "Refresh SN-OLD-1", "RequestorUid": "uid-pat"}
            )
            task = await tdx.create_task(ticket["ID"], {"Title": "Deliver/Install"})
            await tdx.complete_task(ticket["ID"], task["ID"], "Installed.")
            await tdx.add_ticket_feed(ticket["ID"], "Day 1 scheduled.")
        async with httpx.AsyncClient(base_url=first.http_url) as http:
            headers = await login(http, first)
        before = {tid: dict(t) for tid, t in first.tdx.tickets.items()}

    async with SimServer(data_dir=str(tmp_path)) as second, httpx.AsyncClient() as http:
        assert second.tdx.tickets == before
        assert second.tdx.people["uid-pat"]["FullName"] == "Pat Lee"
        assert second.tdx.assets[asset["ID"]]["OwningCustomerName"] == "Pat Lee"
        # A client still holding its token from before the restart is served.
        url = f"{second.tdx_base_url}api/{settings_for(second).tdx_app_id}/tickets/{ticket['ID']}"
        got = await http.get(url, headers=headers)
        assert got.status_code == 200 and got.json()["RequestorName"] == "Pat Lee"
        async with tdx_client(second) as tdx:
            kept = await tdx.get_task(ticket["ID"], task["ID"])
            assert kept["PercentComplete"] == 100
            assert [f["Body"] for f in second.tdx.task_feed[task["ID"]]] == ["Installed."]
            assert [f["Body"] for f in second.tdx.feed[ticket["ID"]]] == ["Day 1 scheduled."]
            # Numbering goes on: nothing new reuses an ID a running ticket may hold.
            newer = await tdx.create_ticket(BASE_TICKET | {"Title": "Another"})
        used = {*second.tdx.tickets, *second.tdx.tasks, asset["ID"]}
        fresh = second.tdx.add_asset("SN-NEW-2")
        assert newer["ID"] > max(before) and fresh["ID"] not in used
        # Seeding a known serial again (a demo seeding at each start) keeps its one asset.
        again = second.tdx.add_asset("SN-OLD-1", OwningCustomerID="uid-pat")
        assert again["ID"] == asset["ID"]
        assert [a["SerialNumber"] for a in second.tdx.assets.values()].count("SN-OLD-1") == 1


async def test_mailbox_and_slack_history_survive_a_restart(tmp_path: Path) -> None:
    async with SimServer(data_dir=str(tmp_path), slack_per_second=100) as first:
        await send(first, email_for("pat@example.edu", "T-1", "invite"))
        slack = SlackClient.from_settings(settings_for(first), timeout=2)
        notice = {"event_type": "deskflow_notice", "event_payload": {"key": "k-1"}}
        await slack.post_message("#nit-central", "Day 1 for SN-OLD-1 is booked", metadata=notice)
        [sent] = first.mail.messages
        [posted] = first.slack.messages

    async with SimServer(data_dir=str(tmp_path), slack_per_second=100) as second:
        [mail] = second.mail.messages
        assert (mail.id, mail.ticket, mail.template, mail.to) == (1, "T-1", "invite", sent.to)
        assert mail.received_at == sent.received_at and mail.html == sent.html
        async with httpx.AsyncClient(base_url=second.http_url) as http:
            page = await http.get(f"/mailbox/{mail.id}")
            assert page.status_code == 200 and "Your new computer" in page.text
        await send(second, email_for("kim@example.edu", "T-2", "invite"))
        assert [m.id for m in second.mail.messages] == [1, 2]
        assert second.slack.messages == [posted]
        assert posted.metadata == notice
        slack = SlackClient.from_settings(settings_for(second), timeout=2)
        since = posted.at - timedelta(seconds=1)
        assert await slack.find_message("#nit-central", "deskflow_notice", "k-1", since=since) == (
            posted.ts
        )
        await slack.post_message("#nit-central", "and installed")
        assert second.slack.channels == {"nit-central": posted.channel}
        later = second.slack.messages_in("#nit-central")
        assert [m.text for m in later] == [posted.text, "and installed"]
        assert float(later[1].ts) > float(later[0].ts)


async def test_reset_forgets_data_but_not_numbering(tmp_path: Path) -> None:
    async with SimServer(data_dir=str(tmp_path)) as first:
        made = first.tdx.add_asset("SN-1")
        first.tdx.reset()
    async with SimServer(data_dir=str(tmp_path)) as second:
        assert second.tdx.assets == {}
        assert second.tdx.add_asset("SN-2")["ID"] > made["ID"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _sim_process(data_dir: Path, http_port: int) -> Iterator[str]:
    """`python -m sim` as `make run` starts it; stopped with SIGTERM (by its pid)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sim",
            "--http-port",
            str(http_port),
            "--smtp-port",
            str(_free_port()),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Press Ctrl-C"):
                break
        yield f"http://127.0.0.1:{http_port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_python_m_sim_keeps_tdx_tickets_across_a_process_restart(tmp_path: Path) -> None:
    ticket = BASE_TICKET | {"Title": "Kept across restarts"}
    port = _free_port()
    with _sim_process(tmp_path, port) as url:
        headers = {"Authorization": f"Bearer {_login(url)}"}
        made = httpx.post(f"{url}/TDWebApi/api/42/tickets", json=ticket, headers=headers)
        made.raise_for_status()
    with _sim_process(tmp_path, port) as url:
        page = httpx.get(f"{url}/TDNext/Apps/42/Tickets/TicketDet?TicketID={made.json()['ID']}")
        assert page.status_code == 200 and "Kept across restarts" in page.text
        again = httpx.post(f"{url}/TDWebApi/api/42/tickets", json=ticket, headers=headers)
        assert again.status_code == 200 and again.json()["ID"] == made.json()["ID"] + 1


def _login(url: str) -> str:
    from domain.settings import Settings

    settings = Settings(_env_file=None)
    answer = httpx.post(
        f"{url}/TDWebApi/api/auth/loginadmin",
        json={
            "BEID": settings.tdx_beid,
            "WebServicesKey": settings.tdx_web_services_key.get_secret_value(),
        },
    )
    answer.raise_for_status()
    return answer.text
