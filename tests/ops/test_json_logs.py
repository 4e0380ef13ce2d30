"""Logs are JSON lines naming ticket, workflow and activity, and never carry a credential.

Two real processes' logs are read: a worker's (in this process, through the JSON formatter
`worker.py` installs) while tickets reach their invite, and `deskflow web`'s, whose access
log sees customer links and feed keys in request paths.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time

import httpx

from operations import log_redaction
from operations.json_logs import JsonFormatter
from tests.ops.conftest import free_port
from tests.web.helpers import invited, link_token
from tests.workflows.helpers import ticket_input


def _lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line must be one JSON object


async def test_worker_logs_are_json_lines_with_context_and_no_secret(env, worker, sim):
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    log_redaction.install()
    try:
        inp = ticket_input("on_prem", "lsa-onprem")
        await invited(env, worker, inp)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = buffer.getvalue()
    events = _lines(text)

    mine = [e for e in events if e.get("ticket_id") == inp.ticket_id]
    assert mine, "no log line names the ticket"
    calls = [e for e in mine if e.get("activity") == "tdx_create_ticket"]
    assert calls and all(e["workflow_id"] == f"refresh-{inp.ticket_id}" for e in calls)
    assert {e["level"] for e in events} <= {"debug", "info", "warning", "error", "critical"}
    # The invite email carried the customer's link; no log line does.
    [invite] = sim.mail.find(ticket=inp.ticket_id, template="invite")
    token = next(w for w in invite.text.split() if "/c/" in w).split("/c/")[1]
    assert token not in text
    assert link_token(worker, inp.ticket_id, "jdoe@example.edu") not in text
    for secret in (worker.secret_key, worker.tdx_web_services_key, worker.slack_token):
        assert secret.get_secret_value() not in text


def test_web_access_log_is_json_without_links_or_keys_or_forged_addresses(settings, tmp_path):
    port = free_port()
    secret = "a-deployment-secret-of-forty-characters-x"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DESKFLOW_")},
        "DESKFLOW_DEV": "true",
        "DESKFLOW_LOG_FORMAT": "json",
        "DESKFLOW_DATABASE_URL": settings.database_url,
        "DESKFLOW_SECRET_KEY": secret,
        # We are not the proxy: our X-Forwarded-For must be ignored.
        "DESKFLOW_TRUSTED_PROXIES": "10.9.9.9",
    }
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "typer", "starter.cli", "run", "web", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        # The app imports, migrates and binds in a second or two here, far longer on a CI
        # machine running the suite four-wide: wait for it, but not for a process that died.
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz")
                break
            except httpx.TransportError:
                assert web.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        token = "eyJ0aWNrZXQiOiJsYWIuQUJDIn0.customer-link-token-value"
        httpx.get(f"{base}/c/{token}")
        httpx.get(f"{base}/api/c/{token}/slots")
        httpx.get(f"{base}/teams/nit-central/slots.ics?key=feed-key-value-123")
        httpx.get(f"{base}/api/me", headers={"Authorization": "Bearer bearer-token-value"})
        httpx.get(f"{base}/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    finally:
        web.terminate()
        web.wait(timeout=30)
    text = log.read_text()
    events = _lines(text)
    access = [e for e in events if e["logger"] == "uvicorn.access"]
    assert len(access) >= 5, text
    assert any("/c/[redacted]" in e["message"] for e in access)
    assert any("key=[redacted]" in e["message"] for e in access)
    assert "203.0.113.9" not in text and "127.0.0.1" in access[-1]["message"]
    for leaked in (
        token,
        "customer-link-token-value",
        "feed-key-value-123",
        "bearer-token",
        secret,
    ):
        assert leaked not in text
