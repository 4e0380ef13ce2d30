"""`deskflow dev`'s own pieces: its ports can be moved, and SIGINT stops it like SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from starter.dev import DevPorts, var_dir

ROOT = Path(__file__).resolve().parents[1]


def test_the_default_ports_and_an_offset_moves_every_one():
    default = DevPorts.from_env({})
    assert (default.web, default.sim, default.smtp, default.temporal, default.temporal_ui) == (
        8000,
        8090,
        8025,
        7233,
        8233,
    )
    moved = DevPorts.from_env({"DESKFLOW_DEV_PORT_OFFSET": "20000"})
    assert all(
        m - d == 20000 for m, d in zip(vars(moved).values(), vars(default).values(), strict=True)
    )
    env = moved.settings_env(Path("/tmp/x"))
    assert env["DESKFLOW_PUBLIC_URL"] == "http://127.0.0.1:28000"
    assert env["TEMPORAL_ADDRESS"] == "127.0.0.1:27233"
    assert env["DESKFLOW_TDX_BASE_URL"] == "http://127.0.0.1:28090/TDWebApi/"
    assert env["DESKFLOW_DATABASE_URL"] == "sqlite:////tmp/x/deskflow.db"
    assert var_dir({"DESKFLOW_DEV_VAR": "/tmp/x"}) == Path("/tmp/x")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_stop_it_even_when_sigint_was_ignored(signum):
    """A script that starts `make run` in the background hands it SIGINT ignored."""
    program = (
        "import time\n"
        "from starter.dev import stop_on_sigint_and_sigterm\n"
        "stop_on_sigint_and_sigterm()\n"
        "try:\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('stopping deskflow', flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", program],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert proc.stdout.readline().strip() == "ready"
    began = time.monotonic()
    proc.send_signal(signum)
    out, _ = proc.communicate(timeout=20)
    assert "stopping deskflow" in out and time.monotonic() - began < 20
