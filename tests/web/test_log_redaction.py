"""Credentials never reach a log, the web server's access log included (issue 8.14)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from operations.log_redaction import redact
from starter.dev_server import wait_for_port
from tests.web.helpers import PASSWORD, link_token

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redact_hides_each_kind_of_credential():
    line = (
        "GET /c/eyJ0IjoiYSJ9.Zz9_x-y/wizard?step=2 /api/c/eyJ0.abc/slots "
        "/teams/t1/slots.ics?key=InQxIg.sig&days=3 Authorization: Bearer eyJz.a_b-c "
        "deskflow_session=eyJz.q; password=hunter22 access_token=zz"
    )
    cleaned = redact(line)
    for secret in ("eyJ0IjoiYSJ9", "eyJ0.abc", "InQxIg.sig", "eyJz.a_b-c", "eyJz.q", "hunter22"):
        assert secret not in cleaned
    assert "/c/[redacted]/wizard?step=2" in cleaned and "days=3" in cleaned


async def test_access_log_of_the_real_server_holds_no_credentials(settings, staff_users, tmp_path):
    port = free_port()
    log = tmp_path / "web.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DESKFLOW_DATABASE_URL": settings.database_url,
        "DESKFLOW_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "web.app:create_app", "--factory"]
        + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "info"],
        env=env,
        cwd=tmp_path,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    link = link_token(settings, "lsa-onprem.NOPE1", "someone@example.edu")
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await http.get(f"/c/{link}")
            await http.get(f"/c/{link}/wizard/location")
            await http.get(f"/api/c/{link}")
            r = await http.post("/api/session", json={"username": "admin", "password": PASSWORD})
            token = r.json()["token"]
            http.cookies.clear()
            auth = {"Authorization": f"Bearer {token}"}
            key = (await http.get("/api/teams", headers=auth)).json()[0]["ics"].split("key=")[1]
            await http.get(f"/teams/nit-central/slots.ics?key={key}")
            await http.get(f"/api/me?token={token}", headers=auth)
    finally:
        server.terminate()
        server.wait(timeout=15)
    text = log.read_text()
    assert '"GET /c/[redacted] HTTP/1.1" 404' in text  # the access log is on, and redacted
    assert "/teams/nit-central/slots.ics?key=[redacted]" in text
    for secret in (link, token, key, PASSWORD):
        assert secret not in text
