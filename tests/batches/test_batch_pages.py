"""A 20,000-line batch works: its lines reach the workflow in pages, never in one message.

The web upload accepts up to 5 MB; with every optional column filled, 20,000 lines are
about 3 MB, which as one workflow input would break Temporal's 4 MB message limit (and its
2 MB payload limit). The launch stores the lines with the batch; the workflow input stays
small and the workflow reads pages through an activity.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment

from activities.batch_lines import BatchLineActivities
from domain.refresh import BatchPageRequest, BatchProgress, RefreshBatchInput, workflow_id
from operations.batches import parse_serials_csv, prepare_batch
from operations.temporal_client import data_converter
from store.db import make_engine, session_factory
from store.tables import Batch, BatchLine

N = 20_000
HEADER = (
    "serial,style,delegate_name,delegate_email,"
    "replacement_serial,replacement_platform,replacement_model\n"
)
LINE = (
    "{p}{i:06d},remote,Assistant Number {i},assistant{i}@example.edu,"
    "NEW{p}{i:06d},windows,Dell Latitude 7450 i7 32GB 1TB\n"
)


def big_csv(prefix: str, n: int = N) -> str:
    return HEADER + "".join(LINE.format(p=prefix, i=i) for i in range(n))


def lines_of(settings, batch_id: str) -> int:
    with session_factory(make_engine(settings.database_url))() as db:
        return db.scalar(select(func.count()).where(BatchLine.batch_id == batch_id))


async def test_a_20000_line_file_becomes_a_small_input_and_pages(settings):
    text = big_csv("PG")
    assert 2_000_000 < len(text.encode()) < 5_000_000  # what the 5 MB upload accepts
    # As one input (how launches worked before), the rows alone would exceed the 4 MB limit
    # (as JSON: the codec's deflate shrinks a file this regular, not every file).
    rows, _ = parse_serials_csv(text)
    inline = RefreshBatchInput(
        batch_id="x", launch_id="x", config_id="lab-loaners", default_style="remote", rows=rows
    )
    [as_json] = data_converter(settings).payload_converter.to_payloads([inline])
    assert as_json.ByteSize() > 4_194_304
    inp, new = await asyncio.to_thread(
        prepare_batch, settings, "lab-loaners", "big-pages", text, "big.csv"
    )
    assert new and inp.lines == N and inp.rows == []
    [payload] = await data_converter(settings).encode([inp])
    assert payload.ByteSize() < 4_000  # not 3 MB: the lines stay in the database
    assert lines_of(settings, "big-pages") == N

    acts = BatchLineActivities(session_factory(make_engine(settings.database_url)))
    seen, cursor = [], 0
    while True:
        req = BatchPageRequest(batch_id="big-pages", after_line=cursor, limit=1000)
        page = ActivityEnvironment().run(acts.read_batch_lines, req)
        assert len(page.rows) + len(page.refused) <= 1000
        [encoded] = await data_converter(settings).encode([page])
        assert encoded.ByteSize() < 512_000  # every page well under Temporal's limits
        seen += [r.serial for r in page.rows]
        if page.last_line == cursor:
            break
        cursor = page.last_line
    assert seen == [f"PG{i:06d}" for i in range(N)]

    # Launched again with the same file: the stored lines run again; another file is refused.
    again, new = await asyncio.to_thread(
        prepare_batch, settings, "lab-loaners", "big-pages", text, "big.csv"
    )
    assert not new and again.lines == N and lines_of(settings, "big-pages") == N
    other = big_csv("PX", 10)
    try:
        await asyncio.to_thread(prepare_batch, settings, "lab-loaners", "big-pages", other, "o.csv")
    except Exception as e:  # noqa: BLE001
        assert getattr(e, "field", None) == "batch_id" and "other serials" in str(e)
    else:
        raise AssertionError("a second file under the same batch id was accepted")


async def test_a_paged_batch_runs_every_line_across_pages_and_runs(env, worker, sim):
    """450 lines (3 pages, 2 runs): 25 systems TDX knows are started, the rest refused."""
    sim.tdx.add_person("pg", UID="uid-pg", FullName="Page Owner", PrimaryEmail="pg@example.edu")
    serials = [f"PAGED{i:04d}" for i in range(445)]
    for s in serials[::18]:
        sim.tdx.add_asset(s, OwningCustomerID="uid-pg", SupportingDepartmentName="nit-central")
    text = "serial\n" + "\n".join(serials[:200] + ["bad serial!"] * 5 + serials[200:]) + "\n"
    inp, _ = await asyncio.to_thread(prepare_batch, worker, "lab-loaners", "paged", text, "p.csv")
    handle = await env.client.start_workflow(
        "RefreshBatch", inp, id="batch-paged", task_queue=worker.task_queue
    )
    p = BatchProgress.model_validate(await asyncio.wait_for(handle.result(), 300))
    known = serials[::18]
    assert p.done and p.total == 450 and p.processed == 450 and p.looked_up == 445
    assert sorted(p.started) == sorted(f"lab-loaners.{s}" for s in known)
    assert len(known) == 25 and len(p.refused) == 425
    assert sum(r.reason.startswith("malformed row") for r in p.refused) == 5
    assert {r.line for r in p.refused if r.reason.startswith("malformed")} == set(range(202, 207))
    first_run = env.client.get_workflow_handle("batch-paged", run_id=handle.first_execution_run_id)
    assert (await first_run.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
    ticket = env.client.get_workflow_handle(workflow_id(f"lab-loaners.{known[-1]}"))
    assert (await ticket.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_no_batch_is_recorded_when_temporal_cannot_start_it(settings, tmp_path):
    csv = tmp_path / "serials.csv"
    csv.write_text("serial\nORPHAN1\n")
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("deskflow")),
        *("batch", "start", "--config", "lab-loaners", "--file", str(csv), "--id", "orphan"),
        env={
            **os.environ,
            "TEMPORAL_ADDRESS": "127.0.0.1:1",  # nothing listens: the start fails
            "DESKFLOW_DATABASE_URL": settings.database_url,
            "COLUMNS": "200",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 1 and "batch not started, nothing recorded" in out.decode()
    with session_factory(make_engine(settings.database_url))() as db:
        assert db.get(Batch, "orphan") is None
    assert lines_of(settings, "orphan") == 0
