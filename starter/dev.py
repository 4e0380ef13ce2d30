"""`deskflow dev` (what `make run` runs): the whole system on one machine, with demo data.

Starts, in order: the Temporal dev server (persistent under var/), the TDX/Slack/SMTP
stand-ins, the worker and the web app as child processes; migrates and loads reference
data; registers the Schedules; seeds demo systems and starts one demo batch per config.
Running it again reuses var/ and starts nothing twice. Ctrl-C or SIGTERM stops every child.

Ports and the data directory can be moved (a second `deskflow dev` beside the first, as the
README walk's browser test runs one): DESKFLOW_DEV_PORT_OFFSET adds to every port below,
DESKFLOW_DEV_VAR puts var/ elsewhere (its database, Temporal's, the stand-ins' files).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from operations.deployment_checks import new_codec_key, new_secret_key
from starter.dev_server import start_dev_server, wait_for_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class DevPorts:
    """Every port `deskflow dev` listens on. The operability ones (README "Operating
    deskflow"): Prometheus of the worker (the SDK's runtime metrics and deskflow's counters),
    the worker's /healthz and /readyz, and the web app's Temporal client metrics; the web
    app's own /metrics, /healthz, /readyz are on `web`."""

    web: int = 8000
    sim: int = 8090
    smtp: int = 8025
    temporal: int = 7233
    temporal_ui: int = 8233
    worker_metrics: int = 9464
    worker_health: int = 9465
    web_sdk_metrics: int = 9466

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DevPorts:
        """The defaults, each moved by DESKFLOW_DEV_PORT_OFFSET (0)."""
        offset = int(environ.get("DESKFLOW_DEV_PORT_OFFSET") or 0)
        return cls(**{f.name: f.default + offset for f in fields(cls)})

    def settings_env(self, var: Path) -> dict[str, str]:
        """The settings that point deskflow's processes at these ports and this var/."""
        sim = f"http://127.0.0.1:{self.sim}"
        return {
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.temporal}",
            "DESKFLOW_TEMPORAL_UI_URL": f"http://127.0.0.1:{self.temporal_ui}",
            "DESKFLOW_PUBLIC_URL": f"http://127.0.0.1:{self.web}",
            "DESKFLOW_SMTP_PORT": str(self.smtp),
            "DESKFLOW_TDX_BASE_URL": f"{sim}/TDWebApi/",
            "DESKFLOW_SLACK_BASE_URL": f"{sim}/slack/api/",
            "DESKFLOW_HALO_BASE_URL": f"{sim}/halo/",
            "DESKFLOW_SERVICENOW_BASE_URL": f"{sim}/servicenow/",
            "DESKFLOW_PAGERDUTY_EVENTS_URL": f"{sim}/pagerduty/",
            "DESKFLOW_DATABASE_URL": f"sqlite:///{var / 'deskflow.db'}",
        }


def var_dir(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("DESKFLOW_DEV_VAR") or ROOT / "var").resolve()


def ensure_env_file(path: Path = ROOT / ".env") -> None:
    """Give this machine its own app secret and codec key, kept across runs (unless the
    environment already gives them)."""
    existing = path.read_text() if path.exists() else ""
    new = {
        "DESKFLOW_SECRET_KEY": new_secret_key,
        "DESKFLOW_CODEC_KEYS": lambda: new_codec_key("dev1"),
        # Exhibit A passwords at rest (provisioning)
        "DESKFLOW_AT_REST_KEYS": lambda: new_codec_key("rest1"),
    }
    lines = [
        f"{key}={make()}"
        for key, make in new.items()
        if key not in existing and key not in os.environ
    ]
    if lines:
        with path.open("a") as f:
            f.write("".join(f"{line}\n" for line in lines))
        path.chmod(0o600)


def stop_on_sigint_and_sigterm() -> None:
    """Ctrl-C, `kill` and a service manager's SIGTERM all stop `deskflow dev` the same way.

    Both are set explicitly: a shell script that starts `make run` in the background hands it
    SIGINT *ignored*, and Python then installs no handler of its own for it. The children
    started after this get the default actions back (exec resets handled signals)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def run_dev(demo: bool = True) -> None:
    stop_on_sigint_and_sigterm()
    os.chdir(ROOT)
    ports, var = DevPorts.from_env(), var_dir()
    ensure_env_file()
    # Marks this process and its children (worker, web app) as development: loopback callers
    # may use the codec endpoint, and the start-up checks of production are skipped.
    os.environ["DESKFLOW_DEV"] = "true"
    moved = ports.settings_env(var)
    if var == ROOT / "var":
        moved.pop("DESKFLOW_DATABASE_URL")  # the settings' default (or the operator's .env)
    if ports == DevPorts():
        moved = {k: v for k, v in moved.items() if k == "DESKFLOW_DATABASE_URL"}
    for key, value in moved.items():
        os.environ.setdefault(key, value)
    from domain.settings import get_settings
    from store.db import make_engine, migrate, session_factory
    from store.reference import load_reference_file

    settings = get_settings()
    procs: list[subprocess.Popen] = []

    def stop() -> None:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()

    try:
        var.mkdir(parents=True, exist_ok=True)
        migrate(settings.database_url)
        with session_factory(make_engine(settings.database_url)).begin() as db:
            print(load_reference_file(ROOT / "demo" / "reference.yaml", db))
        procs.append(
            start_dev_server(
                var / "temporal.db",
                port=ports.temporal,
                ui_port=ports.temporal_ui,
                codec_url=f"{settings.public_url}/codec",
            )
        )
        py = sys.executable
        procs.append(
            subprocess.Popen(
                [
                    py,
                    "-m",
                    "sim",
                    "--http-port",
                    str(ports.sim),
                    "--smtp-port",
                    str(ports.smtp),
                    # The stand-ins keep their records in var/ and post webhooks to us.
                    "--data-dir",
                    str(var),
                    "--hook-url",
                    settings.public_url,
                ]
            )
        )
        wait_for_port("127.0.0.1", ports.sim)
        procs.append(
            subprocess.Popen(
                [py, str(ROOT / "worker.py")],
                env=_with(
                    DESKFLOW_METRICS_BIND=f"127.0.0.1:{ports.worker_metrics}",
                    DESKFLOW_HEALTH_BIND=f"127.0.0.1:{ports.worker_health}",
                ),
            )
        )
        procs.append(
            subprocess.Popen(
                [py, "-m", "uvicorn", "web.app:create_app", "--factory", "--port", str(ports.web)],
                env=_with(DESKFLOW_METRICS_BIND=f"127.0.0.1:{ports.web_sdk_metrics}"),
            )
        )
        wait_for_port("127.0.0.1", ports.web)
        asyncio.run(_after_start(settings, ports, demo))
        _banner(settings, ports)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("a deskflow process stopped; stopping the others", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nstopping deskflow…", flush=True)
    finally:
        stop()


def _with(**extra: str) -> dict[str, str]:
    """This environment plus `extra`, unless the operator set those variables already."""
    return {**extra, **os.environ}


async def _after_start(settings, ports: DevPorts, demo: bool) -> None:
    from operations.temporal_client import connect
    from starter.schedules import dev_cadence, generate_slots_if_none, register_schedules

    client = await connect(settings)
    await register_schedules(client, settings)
    await dev_cadence(client)
    made = await generate_slots_if_none(client, settings)
    if made is not None:
        print(f"no appointment slots yet: generated {made} (the nightly run keeps them coming)")
    if demo:
        from starter.demo import (
            invite_now,
            seed_service_desk,
            seed_tdx,
            start_demo_batches,
            wait_for_batches,
        )

        sim_url = f"http://127.0.0.1:{ports.sim}"
        logged = seed_service_desk(sim_url)
        print(f"demo service desk: {logged} Halo tickets logged (sent to /hooks/halo)")

        serials = seed_tdx(settings, sim_url)
        batches = await start_demo_batches(settings, serials)
        progress = await wait_for_batches(settings, batches)
        for p in progress:
            print(
                f"demo batch {p.batch_id}: started {len(p.started)}, "
                f"already running {len(p.already_running)}, refused {len(p.refused)}"
            )
        invited = await invite_now(client, [t for p in progress for t in p.started])
        if invited:
            print(f"demo: invites sent now to {len(invited)} customer(s); see the mailbox")


def _banner(settings, ports: DevPorts) -> None:
    sim = f"http://127.0.0.1:{ports.sim}"
    print(
        f"""
deskflow is running.
  Web app          {settings.public_url}            (staff login: radmin / deskflow-dev)
  Temporal Web UI  {settings.temporal_ui_url}       (payloads decoded by the web app's codec)
  Mailbox          {sim}/mailbox   (every email deskflow sends)
  TDX/Slack sims   {sim}/_sim/docs
  Worker           http://127.0.0.1:{ports.worker_metrics}/metrics   http://127.0.0.1:{ports.worker_health}/readyz
  Web app probes   {settings.public_url}/metrics   {settings.public_url}/readyz
  ITSM console     {sim}/_sim/{settings.itsm}   (log a ticket)
  Tickets under SLA {settings.public_url}/sla
  CLI              .venv/bin/deskflow ticket show lsa-fy27-onprem.DEMO-LSA-001
  Try it           README "Try it": one refresh from the invite in the Mailbox to complete
Press Ctrl-C to stop everything.
""",
        flush=True,
    )
