"""`deskflow dev` (what `make run` runs): the whole system on one machine, with demo data.

Starts, in order: the Temporal dev server (persistent under var/), the TDX/Slack/SMTP
stand-ins, the worker and the web app as child processes; migrates and loads reference
data; registers the Schedules; seeds demo systems and starts one demo batch per config.
Running it again reuses var/ and starts nothing twice. Ctrl-C stops every child.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from starter.dev_server import start_dev_server, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
SIM_PORT, SMTP_PORT, WEB_PORT = 8090, 8025, 8000


def ensure_env_file(path: Path = ROOT / ".env") -> None:
    """Give this machine its own app secret and codec key, kept across runs."""
    existing = path.read_text() if path.exists() else ""
    lines = []
    if "DESKFLOW_SECRET_KEY" not in existing:
        lines.append(f"DESKFLOW_SECRET_KEY={secrets.token_urlsafe(32)}")
    if "DESKFLOW_CODEC_KEYS" not in existing:
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        lines.append(f"DESKFLOW_CODEC_KEYS=dev1:{key}")
    if lines:
        with path.open("a") as f:
            f.write("".join(f"{line}\n" for line in lines))
        path.chmod(0o600)


def run_dev(demo: bool = True) -> None:
    os.chdir(ROOT)
    ensure_env_file()
    from domain.settings import get_settings
    from store.db import make_engine, migrate, session_factory
    from store.reference import load_reference_file

    settings = get_settings()
    procs: list[subprocess.Popen] = []
    # A SIGTERM (service manager, `timeout`) stops the children like Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    def stop(*_: object) -> None:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()

    try:
        migrate(settings.database_url)
        with session_factory(make_engine(settings.database_url)).begin() as db:
            print(load_reference_file(ROOT / "demo" / "reference.yaml", db))
        procs.append(
            start_dev_server(VAR / "temporal.db", codec_url=f"{settings.public_url}/codec")
        )
        py = sys.executable
        procs.append(
            subprocess.Popen(
                [
                    py,
                    "-m",
                    "sim",
                    "--http-port",
                    str(SIM_PORT),
                    "--smtp-port",
                    str(SMTP_PORT),
                    # Halo and ServiceNow keep their tickets in var/ and post webhooks to us.
                    "--data-dir",
                    str(VAR),
                    "--hook-url",
                    settings.public_url,
                ]
            )
        )
        wait_for_port("127.0.0.1", SIM_PORT)
        procs.append(subprocess.Popen([py, str(ROOT / "worker.py")]))
        procs.append(
            subprocess.Popen(
                [py, "-m", "uvicorn", "web.app:create_app", "--factory", "--port", str(WEB_PORT)]
            )
        )
        wait_for_port("127.0.0.1", WEB_PORT)
        asyncio.run(_after_start(settings, demo))
        _banner(settings)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("a deskflow process stopped; stopping the others", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping deskflow…")
    finally:
        stop()


async def _after_start(settings, demo: bool) -> None:
    from operations.temporal_client import connect

    client = await connect(settings)
    try:
        from starter.schedules import register_schedules
    except ImportError:
        pass
    else:
        await register_schedules(client, settings)
    if demo:
        from starter.demo import seed_service_desk, seed_tdx, start_demo_batches, wait_for_batches

        logged = seed_service_desk(f"http://127.0.0.1:{SIM_PORT}")
        print(f"demo service desk: {logged} Halo tickets logged (sent to /hooks/halo)")

        serials = seed_tdx(f"http://127.0.0.1:{SIM_PORT}")
        batches = await start_demo_batches(settings, serials)
        for p in await wait_for_batches(settings, batches):
            print(
                f"demo batch {p.batch_id}: started {len(p.started)}, "
                f"already running {len(p.already_running)}, refused {len(p.refused)}"
            )


def _banner(settings) -> None:
    print(
        f"""
deskflow is running.
  Web app          {settings.public_url}            (staff login: radmin / deskflow-dev)
  Temporal Web UI  {settings.temporal_ui_url}       (payloads decoded by the web app's codec)
  Mailbox          http://127.0.0.1:{SIM_PORT}/mailbox   (every email deskflow sends)
  TDX/Slack sims   http://127.0.0.1:{SIM_PORT}/_sim/docs
  ITSM console     http://127.0.0.1:{SIM_PORT}/_sim/{settings.itsm}   (log a ticket)
  Tickets under SLA {settings.public_url}/sla
  CLI              .venv/bin/deskflow ticket show lsa-fy27-onprem.DEMO-LSA-001
Press Ctrl-C to stop everything.
""",
        flush=True,
    )
