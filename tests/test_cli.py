"""The `deskflow` command as an operator runs it: a separate process against the server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from domain.refresh import Status
from tests.batches.test_refresh_batch import seed_tdx
from tests.workflows.helpers import reach, start, state, ticket_input, until

DESKFLOW = str(Path(sys.executable).with_name("deskflow"))


async def deskflow(env, settings, *args: str, columns: str = "200") -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        DESKFLOW,
        *args,
        env={
            **os.environ,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "DESKFLOW_TASK_QUEUE": settings.task_queue,
            "DESKFLOW_DATABASE_URL": settings.database_url,
            "DESKFLOW_SECRET_KEY": settings.secret_key.get_secret_value(),
            "COLUMNS": columns,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode, out.decode()


async def test_ticket_show_update_and_signal(env, worker):
    inp = ticket_input("no_customer", "lab-loaners")
    handle = await start(env, worker, inp)
    await until(handle, lambda s: s.setup_done, "setup")

    code, out = await deskflow(env, worker, "ticket", "show", inp.ticket_id)
    assert code == 0 and json.loads(out)["status"] == "pending_ordering"

    code, out = await deskflow(
        env, worker, "ticket", "update", inp.ticket_id, "approve", "--json", '{"approver": "x"}'
    )
    assert code == 1 and "approve refused: ticket is pending_ordering" in out

    code, out = await deskflow(
        env,
        worker,
        "ticket",
        "signal",
        inp.ticket_id,
        "assign_replacement",
        "--json",
        '{"replacement": {"serial": "N1", "platform": "linux", "model": "x"}}',
    )
    assert code == 1 and "replacement.platform" in out
    # Refused before it was sent: the ticket still waits for its replacement.
    s = await state(handle)
    assert s.status == Status.pending_ordering and s.replacement_system is None

    code, out = await deskflow(
        env,
        worker,
        "ticket",
        "update",
        inp.ticket_id,
        "hold",
        "--json",
        '{"actor": "ops", "reason": "lab closed"}',
    )
    assert code == 0 and json.loads(out)["status"] == "on_hold"
    await reach(handle, Status.on_hold)

    code, out = await deskflow(env, worker, "ticket", "show", "no-such-ticket")
    assert code == 1 and "no-such-ticket" in out


async def test_batch_start_prints_progress_and_summary(env, worker, sim, tmp_path):
    seed_tdx(sim)
    csv = tmp_path / "serials.csv"
    csv.write_text("serial\nAAA111\nUNKNOWN9\nnot a serial!\n")
    code, out = await deskflow(
        env, worker, "batch", "start", "--config", "lab-loaners", "--file", str(csv)
    )
    assert code == 0, out
    assert "started 1, already running 0, refused 2 (of 3)" in out
    assert "UNKNOWN9" in out and "unknown serial" in out and "malformed row" in out


async def test_load_refuses_a_bad_file_whole(env, worker, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("support_teams:\n  - id: x\n    name: X\n    colour: red\n")
    code, out = await deskflow(env, worker, "load", str(bad))
    assert code == 1 and "refused, nothing loaded" in out and "bad.yaml:" in out


async def test_load_keeps_rows_the_file_dropped_unless_pruned(env, worker, tmp_path):
    """A re-load adds and updates; a row the file no longer lists goes only with --prune."""
    from store.db import migrate

    own = worker.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'load.db'}"})
    migrate(own.database_url)
    full = Path(__file__).with_name("reference.yaml")
    code, out = await deskflow(env, own, "load", str(full))
    assert code == 0, out
    fewer = tmp_path / "fewer.yaml"
    fewer.write_text(
        "".join(
            line
            for line in full.read_text().splitlines(keepends=True)
            if 'weekday: thu, start: "13:00"' not in line
        )
    )
    code, out = await deskflow(env, own, "load", str(fewer))
    assert code == 0, out
    assert "slot_preferences: 0 created, 0 updated, 2 unchanged, 1 not in the file kept" in out
    assert "1 row not in the file kept; --prune deletes it" in out
    code, out = await deskflow(env, own, "load", "--prune", str(fewer))
    assert code == 0, out
    assert "slot_preferences: 0 created, 0 updated, 2 unchanged, 1 deleted" in out
    code, out = await deskflow(env, own, "load", str(fewer))
    assert code == 0 and "not in the file" not in out, out


async def test_a_signal_the_ticket_would_ignore_is_refused_with_the_reason(env, worker):
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    await until(handle, lambda s: s.setup_done and s.invite_at, "setup")

    code, out = await deskflow(
        env,
        worker,
        "ticket",
        "signal",
        inp.ticket_id,
        "assign_replacement",
        "--json",
        '{"replacement": {"serial": "N1", "platform": "windows", "model": "x"}}',
    )
    assert code == 1, out
    assert "assign_replacement refused" in out and "Waiting to invite the customer" in out
    assert "sent" not in out
    s = await state(handle)
    assert s.replacement_system is None
    assert not any(a.action == "ignored assign_replacement" for a in s.audits)

    code, out = await deskflow(
        env,
        worker,
        "ticket",
        "update",
        inp.ticket_id,
        "send_invite_now",
        "--json",
        '{"actor": "ops"}',
    )
    assert code == 0, out
    await until(handle, lambda s: s.status == Status.pending_wizard, "invite sent now")


async def test_ids_are_never_broken_over_two_lines(env, worker):
    batch = "demo-lsa-fy27-onprem-a-long-batch-id-for-a-narrow-terminal"
    code, out = await deskflow(env, worker, "batch", "show", batch, columns="40")
    assert code == 1 and batch in out, out
