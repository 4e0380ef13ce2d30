"""Order groups: tickets waiting for their replacement computer, and assigning them."""

from __future__ import annotations

from fastapi import APIRouter

from domain.refresh import Status
from web import actions, queries, schemas
from web.deps import App, TicketAdmin
from web.responses import BulkResult, TicketRow, ticket_rows

router = APIRouter(prefix="/api/order-groups", tags=["order groups"])


@router.get("", summary="Tickets waiting for a replacement to be ordered and assigned")
async def waiting(
    _: TicketAdmin, app: App, config: str | None = None, batch: str | None = None
) -> list[TicketRow]:
    rows = await app.read(
        queries.tickets_in_status,
        [Status.pending_ordering.value],
        queries.TicketFilter(config=config, batch=batch),
    )
    return ticket_rows(rows)


@router.post("/assign", summary="Assign replacement computers to tickets (each moves on)")
async def assign(body: schemas.AssignReplacements, staff: TicketAdmin, app: App) -> BulkResult:
    items = [a.model_dump(mode="json") for a in body.assignments]
    return BulkResult.model_validate(
        await actions.assign_replacements(app, staff, body.group, items)
    )


@router.post("/assign-csv", summary="Assign replacement computers from an order-group CSV")
async def assign_csv(body: schemas.AssignCsv, staff: TicketAdmin, app: App) -> BulkResult:
    return BulkResult.model_validate(
        await actions.assign_replacements_csv(app, staff, body.group, body.csv)
    )
