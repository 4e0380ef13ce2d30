"""The web upload of a 20,000-line batch (about 2.3 MB, under the 5 MB upload limit) starts
its RefreshBatch with a small input: the lines are stored with the batch and read in pages."""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import EventType

from domain.refresh import BatchProgress, RefreshBatchInput
from operations.temporal_client import data_converter
from store.db import make_engine, session_factory
from store.tables import Batch
from tests.batches.test_batch_pages import N, big_csv, lines_of
from tests.web.helpers import bearer


async def test_the_web_upload_of_20000_lines_starts_a_small_workflow(web, env, worker):
    admin = await bearer(web, "admin")
    body = {"config_id": "lab-loaners", "batch_id": "big-web", "csv": big_csv("WB")}
    r = await web.post("/api/batches", json=body, headers=admin)
    assert r.status_code == 201, r.text
    handle = env.client.get_workflow_handle("batch-big-web")
    try:
        history = [e async for e in handle.fetch_history_events()]
        started = history[0]
        assert started.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        [payload] = started.workflow_execution_started_event_attributes.input.payloads
        assert payload.ByteSize() < 4_000
        [inp] = await data_converter(worker).decode([payload], [RefreshBatchInput])
        assert inp.lines == N
        with session_factory(make_engine(worker.database_url))() as db:
            batch = db.get(Batch, "big-web")
            assert batch.row_count == N and batch.created_by == "admin"
        assert lines_of(worker, "big-web") == N
        for _ in range(200):  # the workflow reads its first page and looks serials up
            p = await handle.query("progress", result_type=BatchProgress)
            if p.looked_up:
                break
            await asyncio.sleep(0.05)
        assert p.total == N and p.looked_up > 0  # it read its first page
    finally:
        await handle.terminate("test done: 20,000 look-ups are not the point")
