"""Approvers: the tickets of the configs naming them, and their decisions."""

from __future__ import annotations

from fastapi import APIRouter

from domain.refresh import EDITABLE, Status, TicketState
from web import actions, queries, schemas
from web.deps import App, Approver
from web.responses import Approvals, ChangeRequested, ticket_rows

router = APIRouter(prefix="/api", tags=["approvals"])


@router.get("/approvals", summary="Tickets you approve: waiting for you, and still editable")
async def approvals(staff: Approver, app: App) -> Approvals:
    rows, total = await app.read(
        queries.list_tickets, queries.TicketFilter(), limit=1000, configs=staff.approver_configs
    )
    return Approvals(
        total=total,
        pending_approval=ticket_rows([r for r in rows if r.status == Status.pending_approval]),
        editable=ticket_rows([r for r in rows if r.status in EDITABLE]),
        tickets=ticket_rows(rows),
    )


@router.post("/tickets/{ticket_id}/approve", summary="Approve a ticket of a config you approve")
async def approve(
    ticket_id: str, body: schemas.ApproveBody, staff: Approver, app: App
) -> TicketState:
    data = body.model_dump(mode="json")
    await actions.approver_action(app, staff, ticket_id, "approve", data)
    return await actions.ticket_state(app, ticket_id)


@router.post("/tickets/{ticket_id}/reject", summary="Reject a ticket: it is cancelled")
async def reject(
    ticket_id: str, body: schemas.RejectBody, staff: Approver, app: App
) -> TicketState:
    data = body.model_dump(mode="json")
    await actions.approver_action(app, staff, ticket_id, "reject", data)
    return await actions.ticket_state(app, ticket_id)


@router.post(
    "/tickets/{ticket_id}/request_change",
    summary="Ask for a change after ordering: opens a TDX change request",
)
async def request_change(
    ticket_id: str, body: schemas.ChangeRequestBody, staff: Approver, app: App
) -> ChangeRequested:
    data = body.model_dump(mode="json")
    tdx_id = await actions.approver_action(app, staff, ticket_id, "request_change", data)
    return ChangeRequested(tdx_ticket_id=tdx_id)
