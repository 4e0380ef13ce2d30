"""The worker SIGKILLed between the first page and the acknowledgement timeout, then started
again: the second page goes out on time, once (the escalation timer lives in Temporal, not in
the worker).

The worker runs as its own process (`python worker.py`) on the real dev server (the
time-skipping server does not hand a dead worker's sticky tasks on), so this test runs in real
time: its own database holds the tests' after-hours data with a one-minute acknowledgement
timeout and CPS never open, so the call is after hours whenever the test runs."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path
from uuid import uuid4

import yaml

from domain.settings import Settings
from starter.dev_server import start_worker_process
from store.db import make_engine, migrate, session_factory
from store.reference import load_reference_file
from tests.after_hours.helpers import case, case_until, intake, pages, start, until

ROOT = Path(__file__).resolve().parents[2]


def worker_process(settings: Settings, address: str, queue: str, log: Path) -> subprocess.Popen:
    return start_worker_process(settings, address, log, DESKFLOW_TASK_QUEUE=queue)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def one_minute_desk(tmp_path: Path) -> str:
    raw = yaml.safe_load((ROOT / "tests" / "after_hours" / "after_hours.yaml").read_text())
    raw["after_hours"]["ack_timeout_minutes"] = 1
    raw["after_hours"]["cps_hours"]["days"] = []
    path = tmp_path / "after_hours.yaml"
    path.write_text(yaml.safe_dump(raw))
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    migrate(url)
    with session_factory(make_engine(url)).begin() as db:
        load_reference_file(path, db)
    return url


async def test_second_page_on_time_once_after_a_worker_kill(dev_env, settings, sim, tmp_path):
    sim.paging.reset()
    sim.halo.reset()
    local_settings = settings.model_copy(update={"database_url": one_minute_desk(tmp_path)})
    address = dev_env.client.service_client.config.target_host
    queue = f"after-hours-{uuid4().hex[:8]}"
    log = tmp_path / "worker.log"

    first = worker_process(local_settings, address, queue, log)
    try:
        data = intake("c-restart", partner="uhs", emergency_judgement="Payroll run tonight.")
        h = await start(dev_env, queue, data)
        s = await case_until(h, lambda c: len(c.pages) == 1, "the first page", 30)
        await until(lambda: _pages(sim), lambda p: len(p) == 1, "the first phone to ring")
    finally:
        kill(first)
    first_page = s.pages[0]
    assert first_page.person == s.order[0]

    # Twenty seconds with no worker at all; then a new worker process.
    await asyncio.sleep(20)
    assert [p for p, _ in pages(sim)] == [first_page.person]
    second = worker_process(local_settings, address, queue, log)
    try:
        s = await until(
            lambda: case(h), lambda c: len(c.pages) == 2, "the second page after restart", 90
        )
        late = (s.pages[1].paged_at - first_page.paged_at).total_seconds()
        assert 60 <= late < 66, late  # on time: the one-minute timeout, plus a task's latency
        assert (s.pages[1].person, s.pages[0].outcome) == (s.order[1], "voicemail")
        s = await h.execute_update("acknowledge", {"by": s.order[1]}, result_type=type(s))
        assert s.acknowledged_by == s.order[1]
        await asyncio.sleep(3)
        assert [p for p, _ in pages(sim)] == s.order  # each once, none after the ack
    finally:
        kill(second)


async def _pages(sim) -> list:
    return pages(sim)
