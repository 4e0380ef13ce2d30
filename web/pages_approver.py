"""Approver pages: the tickets of their configs; approve, reject, edit, request a change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.refresh import EDITABLE, Status
from operations import tickets
from operations.errors import FieldError
from web import actions, forms, queries, schemas
from web.deps import WebApp, staff_with, web_app
from web.security import Perm, Staff

router = APIRouter(include_in_schema=False)
APP = Depends(web_app)
APPROVER = Depends(staff_with(Perm.approve))
NOTICES = {
    "approve": "Approved.",
    "reject": "Rejected: the ticket is cancelled.",
    "edit": "Changes saved.",
    "request_change": "Change request submitted to TDX.",
}


@router.get("/approvals", response_class=HTMLResponse)
async def approvals(request: Request, staff: Staff = APPROVER, app: WebApp = APP):
    rows, _ = await app.read(
        queries.list_tickets, queries.TicketFilter(), limit=1000, configs=staff.approver_configs
    )
    groups = [
        ("Waiting for your approval", [r for r in rows if r.status == Status.pending_approval]),
        (
            "Editable (before ordering)",
            [r for r in rows if r.status in EDITABLE - {Status.pending_approval}],
        ),
        ("Ordering and later", [r for r in rows if r.status not in EDITABLE]),
    ]
    return app.templates.TemplateResponse(
        request, "approver/list.html", {"staff": staff, "groups": groups}
    )


async def _detail(
    app: WebApp,
    request: Request,
    staff: Staff,
    ticket_id: str,
    errors: dict[str, str] | None = None,
    form_name: str | None = None,
    status: int = 200,
) -> Response:
    row, _ = await actions.approver_identity(app, staff, ticket_id)
    s = await tickets.state(await app.client(), ticket_id)
    cfg = await actions.ticket_config(app, row.config_id, s)
    notice = NOTICES.get(request.query_params.get("done", ""))
    return app.templates.TemplateResponse(
        request,
        "approver/detail.html",
        {
            "staff": staff,
            "s": s,
            "editable": s.status in EDITABLE,
            "edit": forms.edit_choices(s, cfg),
            "edit_action": f"/approvals/{ticket_id}/edit",
            "errors": errors or {},
            "form_name": form_name,
            "notice": notice,
        },
        status_code=status,
    )


@router.get("/approvals/{ticket_id}", response_class=HTMLResponse)
async def approval_detail(
    request: Request, ticket_id: str, staff: Staff = APPROVER, app: WebApp = APP
):
    return await _detail(app, request, staff, ticket_id)


BODIES: dict[str, Any] = {
    "approve": schemas.ApproveBody,
    "reject": schemas.RejectBody,
    "request_change": schemas.ChangeRequestBody,
}


@router.post("/approvals/{ticket_id}/{action}")
async def approval_action(
    request: Request, ticket_id: str, action: str, staff: Staff = APPROVER, app: WebApp = APP
):
    if action not in (*BODIES, "edit"):
        raise FieldError(404, f"no approver action '{action}'")
    form = await request.form()
    try:
        if action == "edit":
            row, _ = await actions.approver_identity(app, staff, ticket_id)
            s = await tickets.state(await app.client(), ticket_id)
            cfg = await actions.ticket_config(app, row.config_id, s)
            data = forms.body(schemas.EditBody, forms.edit_body(form, s, cfg))
            await actions.edit_ticket(app, staff, ticket_id, data)
        else:
            data = forms.body(BODIES[action], forms.nested(form))
            await actions.approver_action(app, staff, ticket_id, action, data)
    except FieldError as e:
        if e.status not in (409, 422):
            raise
        return await _detail(
            app, request, staff, ticket_id, e.errors or {"_form": e.message}, action, e.status
        )
    return RedirectResponse(f"/approvals/{ticket_id}?done={action}", status_code=303)
