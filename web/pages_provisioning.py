"""Provisioning intake on the staff console and the JSON API (seed 000).

Pages: `/provisioning` (tickets), `/provisioning/{id}` (the ticket: Exhibit A form with each
problem under its field, the steps the signed-in role may take, the audited password
reveal), `/provisioning/compliance` (the Service Desk Manager's work-type gauge). The API
under `/api/provisioning` offers the same: `GET {id}`, `POST {id}/{update}`, `POST
{id}/reveal`, `GET compliance?month=YYYY-MM` (the gauge as a metric).

Passwords are never put back into a form, never in a page except the one answering a reveal
(sent `Cache-Control: no-store`), and every reveal writes an audit row first.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from domain.provisioning import (
    EXHIBIT_FIELDS,
    OPTIONAL_FIELDS,
    SECRET_FIELDS,
    SUBCATEGORY_NAMES,
    YES_NO_FIELDS,
    InventoryType,
)
from operations import provisioning as ops
from operations.errors import FieldError
from store import provisioning as prov_store
from store.secret_box import SecretBox
from web.deps import WebApp, staff_with, web_app
from web.security import Perm, Staff

router = APIRouter(tags=["provisioning"])
APP = Depends(web_app)
VIEW = Depends(staff_with(Perm.view_provisioning))
WORK = Depends(staff_with(Perm.work_provisioning))
REVEAL = Depends(staff_with(Perm.reveal_secrets))
COMPLIANCE = Depends(staff_with(Perm.view_compliance))
STATUS_WORDS = {
    "procurement": "Procurement: waiting for the equipment",
    "care_team_review": "Care Team: to assign",
    "pending_confirmation": "8D: specialist to confirm A, B or C",
    "provisioning": "Provisioning",
    "repair": "Reclassified as a repair",
    "closed": "Closed",
}
FORM_ACTIONS = {
    "equipment-received": "equipment_received",
    "subcategory": "set_subcategory",
    "assign": "assign",
    "time": "log_time",
    "repair": "reclassify_as_repair",
    "close": "request_close",
}


def _by(staff: Staff):
    return ops.actor(staff.username, staff.name, staff.email, staff.roles)


def _id(halo_ticket_id: str) -> str:
    if not halo_ticket_id.isdigit() or len(halo_ticket_id) > 12:
        raise FieldError(404, "There is no such page.")
    return halo_ticket_id


# ----- pages ---------------------------------------------------------------------------------


@router.get("/provisioning", response_class=HTMLResponse, include_in_schema=False)
async def list_page(
    request: Request, status: str | None = None, staff: Staff = VIEW, app: WebApp = APP
):
    status = status if status in STATUS_WORDS else None
    rows = await app.read(prov_store.tickets, status)
    return app.templates.TemplateResponse(
        request,
        "staff/provisioning_list.html",
        {"staff": staff, "rows": rows, "status": status, "words": STATUS_WORDS},
    )


@router.get("/provisioning/compliance", response_class=HTMLResponse, include_in_schema=False)
async def compliance_page(
    request: Request, month: str | None = None, staff: Staff = COMPLIANCE, app: WebApp = APP
):
    gauge = await app.read(ops.gauge, month, app.settings.timezone)
    return app.templates.TemplateResponse(
        request, "staff/provisioning_compliance.html", {"staff": staff, "gauge": gauge}
    )


async def _ticket_page(
    request: Request,
    app: WebApp,
    staff: Staff,
    halo_ticket_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    notice: str | None = None,
    revealed: tuple[str, str] | None = None,
    status_code: int = 200,
):
    s = await ops.state(await app.client(), halo_ticket_id)
    reveals = await app.read(prov_store.reveal_audits, halo_ticket_id)
    values = (
        values
        if values is not None
        else (s.details.model_dump(mode="json") if s and s.details else {})
    )
    response = app.templates.TemplateResponse(
        request,
        "staff/provisioning_ticket.html",
        {
            "staff": staff,
            "s": s,
            "words": STATUS_WORDS,
            "fields": EXHIBIT_FIELDS,
            "secret_fields": SECRET_FIELDS,
            "optional": OPTIONAL_FIELDS,
            "yes_no": YES_NO_FIELDS,
            "inventory_types": [t.value for t in InventoryType],
            "subcategories": SUBCATEGORY_NAMES,
            "values": {k: v for k, v in values.items() if k not in SECRET_FIELDS},
            "errors": errors or {},
            "notice": notice,
            "revealed": revealed,
            "reveals": reveals,
            "can_work": staff.can(Perm.work_provisioning),
            "can_reveal": staff.can(Perm.reveal_secrets),
        },
        status_code=status_code,
    )
    if revealed:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/provisioning/{halo_ticket_id}", response_class=HTMLResponse, include_in_schema=False)
async def ticket_page(
    request: Request, halo_ticket_id: str, staff: Staff = VIEW, app: WebApp = APP
):
    return await _ticket_page(request, app, staff, _id(halo_ticket_id))


@router.post("/provisioning/{halo_ticket_id}/details", include_in_schema=False)
async def details_form(
    request: Request, halo_ticket_id: str, staff: Staff = WORK, app: WebApp = APP
):
    tid = _id(halo_ticket_id)
    form = await request.form()
    draft = {name: str(form.get(name, "")) for name in EXHIBIT_FIELDS}
    try:
        await app.read(ops.check_exhibit, draft)
        await ops.update(await app.client(), tid, "submit_details", _by(staff), {"details": draft})
    except FieldError as e:
        if e.status >= 500 or e.status == 404:
            raise
        errors = e.errors or {"_form": e.message}
        return await _ticket_page(
            request, app, staff, tid, errors=errors, values=draft, status_code=e.status
        )
    return RedirectResponse(f"/provisioning/{tid}?saved=1", status_code=303)


@router.post("/provisioning/{halo_ticket_id}/reveal", include_in_schema=False)
async def reveal_form(
    request: Request, halo_ticket_id: str, staff: Staff = REVEAL, app: WebApp = APP
):
    tid = _id(halo_ticket_id)
    field = str((await request.form()).get("field", ""))
    box = SecretBox.from_settings(app.settings)
    try:
        value = await app.write(ops.reveal, box, tid, field, staff.username)
    except FieldError as e:
        return await _ticket_page(
            request, app, staff, tid, errors={"_form": e.message}, status_code=e.status
        )
    return await _ticket_page(request, app, staff, tid, revealed=(EXHIBIT_FIELDS[field], value))


@router.post("/provisioning/{halo_ticket_id}/{action}", include_in_schema=False)
async def action_form(
    request: Request, halo_ticket_id: str, action: str, staff: Staff = WORK, app: WebApp = APP
):
    tid = _id(halo_ticket_id)
    name = FORM_ACTIONS.get(action)
    if name is None:
        raise FieldError(404, "There is no such page.")
    form = await request.form()
    data: dict[str, Any] = {
        k: str(v) for k, v in form.items() if k != "csrf_token" and str(v).strip() != ""
    }
    if "halo_agent_id" in data:
        data["halo_agent_id"] = int(data["halo_agent_id"]) if data["halo_agent_id"].isdigit() else 0
    try:
        await ops.update(await app.client(), tid, name, _by(staff), data)
    except FieldError as e:
        if e.status >= 500 or e.status == 404:
            raise
        return await _ticket_page(
            request, app, staff, tid, errors={e.field or "_form": e.message}, status_code=e.status
        )
    return RedirectResponse(f"/provisioning/{tid}", status_code=303)


# ----- JSON API --------------------------------------------------------------------------------


@router.get("/api/provisioning/compliance")
async def api_compliance(
    month: str | None = None, staff: Staff = COMPLIANCE, app: WebApp = APP
) -> dict[str, Any]:
    """The month's gauge: overall and per analyst, weeks and offending tickets."""
    gauge = await app.read(ops.gauge, month, app.settings.timezone)
    return {**gauge.model_dump(mode="json"), "metric": gauge.as_metric()}


@router.get("/api/provisioning/{halo_ticket_id}")
async def api_state(halo_ticket_id: str, staff: Staff = VIEW, app: WebApp = APP):
    s = await ops.state(await app.client(), _id(halo_ticket_id))
    return None if s is None else s.model_dump(mode="json")


@router.post("/api/provisioning/{halo_ticket_id}/reveal")
async def api_reveal(
    halo_ticket_id: str, body: dict[str, Any], staff: Staff = REVEAL, app: WebApp = APP
):
    field = str(body.get("field", ""))
    box = SecretBox.from_settings(app.settings)
    value = await app.write(ops.reveal, box, _id(halo_ticket_id), field, staff.username)
    return JSONResponse({"field": field, "value": value}, headers={"Cache-Control": "no-store"})


@router.post("/api/provisioning/{halo_ticket_id}/{update}")
async def api_update(
    halo_ticket_id: str,
    update: str,
    body: dict[str, Any],
    staff: Staff = WORK,
    app: WebApp = APP,
):
    """Send an update (`by` is the signed-in staff member). `submit_details` takes
    `{"details": {...14 fields}}` and answers 422 with every field's problem."""
    tid = _id(halo_ticket_id)
    if update == "submit_details":
        details = body.get("details")
        if not isinstance(details, dict):
            raise FieldError(422, "details: expected the 14 Exhibit A fields", "details")
        await app.read(ops.check_exhibit, details)
    s = await ops.update(await app.client(), tid, update, _by(staff), body)
    return s.model_dump(mode="json")
