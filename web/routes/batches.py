"""Batches: a CSV of serials becomes one refresh ticket per system (RefreshBatch workflow)."""

from __future__ import annotations

from fastapi import APIRouter

from operations import tickets
from operations.errors import not_found
from web import actions, queries, schemas
from web.deps import App, TicketAdmin
from web.responses import BatchPreviewResult, BatchStarted, BatchStatus, BatchSummary

router = APIRouter(prefix="/api/batches", tags=["batches"])


@router.get("", summary="Batches, newest first")
async def list_batches(_: TicketAdmin, app: App) -> list[BatchSummary]:
    return [BatchSummary.of(b) for b in await app.read(queries.batches)]


@router.post("/preview", summary="Check a serials CSV: the rows it gives, the lines refused")
async def preview(body: schemas.BatchPreview, _: TicketAdmin) -> BatchPreviewResult:
    rows, refused = actions.preview_batch(body.csv)
    return BatchPreviewResult(rows=rows, refused=refused)


@router.post("", status_code=201, summary="Start a batch: one refresh ticket per serial")
async def start(body: schemas.BatchCreate, staff: TicketAdmin, app: App) -> BatchStarted:
    batch_id = await actions.start_batch(
        app, staff, body.config_id, body.batch_id, body.csv, body.source_name
    )
    return BatchStarted(
        batch_id=batch_id,
        workflow_id=f"batch-{batch_id}",
        progress=f"/api/batches/{batch_id}",
    )


@router.get("/{batch_id}", summary="How far a batch is: tickets started, refused, remaining")
async def progress(batch_id: str, _: TicketAdmin, app: App) -> BatchStatus:
    row = await app.read(queries.batch, batch_id)
    if row is None:
        raise not_found(f"no batch {batch_id}")
    found = await tickets.batch_progress(await app.client(), batch_id)
    return BatchStatus(batch_id=batch_id, config_id=row.config_id, progress=found)
