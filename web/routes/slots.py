"""One appointment slot."""

from __future__ import annotations

from fastapi import APIRouter

from operations.slot_admin import DeleteSlotResult
from web import actions
from web.deps import App, SlotAdmin

router = APIRouter(prefix="/api/slots", tags=["teams and slots"])


@router.delete(
    "/{slot_id}",
    summary="Delete a slot; customers booked on it are asked to pick a new time",
)
async def delete_slot(slot_id: int, staff: SlotAdmin, app: App) -> DeleteSlotResult:
    return DeleteSlotResult.model_validate(await actions.delete_slot(app, staff, slot_id))
