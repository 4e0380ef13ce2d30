"""Staff page: one refresh ticket from an existing system's serial (Refresh Administrators)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from domain.refresh import SystemLookup
from operations.errors import FieldError
from web import queries, single_ticket
from web.deps import App, ConfigEditor, WebApp
from web.pages.configs import STYLES
from web.pages.render import page
from web.security import Staff

router = APIRouter(include_in_schema=False)
FIELDS = ("serial", "config_id", "style", "delegate_name", "delegate_email")


async def _form_page(
    app: WebApp,
    request: Request,
    staff: Staff,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    status: int = 200,
    found: SystemLookup | None = None,
):
    configs = [
        (c.id, f"{c.id}: {c.name} ({c.default_style})") for c in await app.read(queries.configs)
    ]
    return page(
        app,
        request,
        "staff/new_ticket.html",
        staff,
        status,
        values=values,
        errors=errors or {},
        configs=configs,
        styles=STYLES,
        found=found,
    )


@router.get("/new-ticket", response_class=HTMLResponse)
async def new_ticket_page(request: Request, staff: ConfigEditor, app: App):
    return await _form_page(app, request, staff, {})


@router.post("/new-ticket", response_class=HTMLResponse)
async def new_ticket(request: Request, staff: ConfigEditor, app: App):
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in FIELDS}
    try:
        serial, style, delegate = single_ticket.check_request(
            values["serial"], values["style"], values["delegate_name"], values["delegate_email"]
        )
        if form.get("step") == "lookup":
            found = await single_ticket.look_up(app, serial)
            return await _form_page(app, request, staff, values, found=found)
        made = await single_ticket.create(app, staff, values["config_id"], serial, style, delegate)
    except FieldError as e:
        if e.status not in (409, 422, 503):
            raise
        return await _form_page(app, request, staff, values, e.errors, e.status)
    target = f"/tickets/{made.ticket_id}" if made.started else f"/batches/{made.batch_id}"
    return RedirectResponse(target, status_code=303)
