"""The same action on many tickets at once; each ticket is done or refused with the reason."""

from __future__ import annotations

from fastapi import APIRouter

from web import actions, schemas
from web.deps import App, TicketAdmin, TicketManager
from web.responses import BulkResult

router = APIRouter(prefix="/api/bulk", tags=["bulk actions"])


@router.post(
    "/reschedule",
    summary="Move many tickets to one slot, or ask each customer to pick a new time",
)
async def reschedule(body: schemas.BulkReschedule, staff: TicketAdmin, app: App) -> BulkResult:
    return BulkResult.model_validate(
        await actions.bulk_reschedule(app, staff, body.ticket_ids, body.slot_id, body.reason)
    )


@router.post("/hold", summary="Put many tickets on hold")
async def hold(body: schemas.TicketIds, staff: TicketManager, app: App) -> BulkResult:
    return BulkResult.model_validate(
        await actions.hold_many(app, staff, body.ticket_ids, body.reason)
    )


@router.post("/release", summary="Release many held tickets")
async def release(body: schemas.TicketIds, staff: TicketManager, app: App) -> BulkResult:
    return BulkResult.model_validate(await actions.release_many(app, staff, body.ticket_ids))
