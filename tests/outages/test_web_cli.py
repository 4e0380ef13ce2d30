"""Outages from the web (public page, staff console, JSON API) and the CLI, as HDQA, SNCC and
a level-1 agent use them: one action to link, level 1 refused with the rule."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.itsm.helpers import local, move_to, until
from tests.outages.helpers import log_sn_incidents, sn_incident

DESKFLOW = str(Path(sys.executable).with_name("deskflow"))


@pytest.fixture
def worker(worker):
    """The deployment's ITSM is ServiceNow here (`DESKFLOW_ITSM`), as in seed 004's desk."""
    return worker.model_copy(update={"itsm": "servicenow"})


async def bearer(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await http.post("/api/session", json={"username": username, "password": "test-password"})
    assert r.status_code == 200, r.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def deskflow(env, worker, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        DESKFLOW,
        *args,
        env={
            **os.environ,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "DESKFLOW_TASK_QUEUE": worker.task_queue,
            "DESKFLOW_DATABASE_URL": worker.database_url,
            "DESKFLOW_SECRET_KEY": worker.secret_key.get_secret_value(),
            "DESKFLOW_ITSM": "servicenow",
            "COLUMNS": "200",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_outage_through_the_web_and_the_cli(env, worker, hooks, sim, processes_loaded):
    await move_to(env, sim, local(2026, 12, 9, 9))
    incidents = log_sn_incidents(sim, 4, "webcaller")
    async with httpx.AsyncClient(base_url=hooks, timeout=30) as http:
        public = await http.get("/status/outages")
        assert public.status_code == 200 and "Printing" not in public.text
        agent, hdqa, sncc = [await bearer(http, u) for u in ("agent", "hdqa", "sncc")]
        body = {"service": "Printing", "summary": "Print queues down", "incidents": incidents[:1]}
        r = await http.post("/api/outages/print-1/report_potential", json=body, headers=agent)
        assert r.status_code == 403  # level 1 does not report outages: HDQA does
        r = await http.post("/api/outages/print-1/report_potential", json=body, headers=hdqa)
        assert r.status_code == 200 and r.json()["reported_by"] == "Hana HDQA", r.text
        r = await http.post(
            "/api/outages/print-1/confirm", json={"owner_team": "SNCC-Sysops"}, headers=hdqa
        )
        assert r.status_code == 403
        r = await http.post(
            "/api/outages/print-1/confirm", json={"owner_team": "Help Desk"}, headers=sncc
        )
        assert r.status_code == 409 and r.json()["field"] == "owner_team"
        r = await http.post(
            "/api/outages/print-1/confirm",
            json={"owner_team": "SNCC-Sysops", "public_note": "Printing is down"},
            headers=sncc,
        )
        assert r.status_code == 200 and r.json()["status"] == "confirmed"

        async def public_page():
            return (await http.get("/status/outages")).text

        await until(public_page, lambda t: "Printing is down" in t, "public outage page")
        assert (await http.get("/api/outages/public")).json()[0]["service"] == "Printing"

        # One action from the API, from the staff console's form, and from the CLI.
        r = await http.post(
            "/api/outages/print-1/incidents", json={"ticket_id": incidents[1]}, headers=agent
        )
        assert r.status_code == 200 and r.json()["already_linked"] is False
        r = await http.post(
            "/api/outages/print-1/incidents", json={"ticket_id": incidents[1]}, headers=agent
        )
        assert r.json()["already_linked"] is True
        r = await http.post(
            "/api/outages/print-1/incidents", json={"ticket_id": "INC 1"}, headers=agent
        )
        assert r.status_code == 422 and r.json()["field"] == "ticket_id"
        async with httpx.AsyncClient(base_url=hooks, timeout=30) as browser:
            r = await browser.post(
                "/api/session", json={"username": "agent", "password": "test-password"}
            )
            form = {"ticket_id": incidents[2], "csrf_token": r.json()["csrf_token"]}
            # The session cookie is Secure: a browser sends it only over HTTPS (the
            # deployment's), so this plain-HTTP loopback test sends it by hand.
            cookie = "; ".join(f"{k}={v}" for k, v in r.cookies.items())
            page = await browser.post(
                "/outages/print-1/link", data=form, headers={"Cookie": cookie}
            )
            assert page.status_code == 303, page.text
        page = await http.get("/outages/print-1", headers=agent)
        assert page.status_code == 200 and incidents[2] in page.text
        code, out = await deskflow(
            env, worker, "outage", "link", "print-1", incidents[3], "--by", "Cli Agent"
        )
        assert code == 0 and json.loads(out)["linked"] == 4, out

        # Level 1 is refused with the rule; HDQA may escalate one to itself.
        r = await http.post(
            "/api/outages/print-1/incident_action",
            json={"ticket_id": incidents[1], "action": "resolve"},
            headers=agent,
        )
        assert r.status_code == 403 and "seed 004 step 9" in r.json()["detail"], r.text
        code, out = await deskflow(
            env,
            worker,
            "outage",
            "update",
            "print-1",
            "incident_action",
            "--json",
            json.dumps(
                {
                    "ticket_id": incidents[1],
                    "action": "escalate_to_hdqa",
                    "role": "level_1",
                    "by": "Lee",
                }
            ),
        )
        assert code == 1 and "seed 004 step 9" in out
        r = await http.post(
            "/api/outages/print-1/incident_action",
            json={"ticket_id": incidents[1], "action": "escalate_to_hdqa"},
            headers=hdqa,
        )
        assert r.status_code == 200, r.text
        assert sn_incident(sim, incidents[1])["assignment_group"] == "HDQA"

        r = await http.post(
            "/api/outages/print-1/resolve", json={"notes": "Spooler restarted"}, headers=sncc
        )
        assert r.status_code == 200

        async def resolved():
            return [sn_incident(sim, n)["state"] for n in incidents]

        await until(resolved, lambda states: states == ["6"] * 4, "all four resolved")
        await until(public_page, lambda t: "Printing is down" not in t, "off the public page")
        code, out = await deskflow(env, worker, "outage", "show", "print-1")
        assert code == 0 and json.loads(out)["status"] == "resolved"
        staff_list = await http.get("/api/outages", headers=agent)
        row = next(o for o in staff_list.json() if o["outage_id"] == "print-1")
        assert (row["linked"], row["resolved"]) == (4, 4)
