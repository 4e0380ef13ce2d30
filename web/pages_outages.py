"""Outages and partner triage on the web: the public outage page, the staff console's
outages (report, confirm, link an incident in one action, resolve) and today's triage.

The public page reads the `outage` projection only (no sign-in, nothing but what callers may
know); staff pages add the workflow's `state` query. The JSON API under /api/outages and
/api/triage does the same through `web.outage_actions`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.outages import UPDATES
from operations import outages as ops
from operations.errors import FieldError
from store import processes
from web.deps import WebApp, staff_with, web_app
from web.outage_actions import outage_role, outage_update
from web.security import Perm, Staff

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["outages and triage"])
APP = Depends(web_app)
DESK = Depends(staff_with(Perm.desk))
LINK_BODY = Body(..., examples=[{"ticket_id": "INC0010001"}])
REASSIGN_BODY = Body(..., examples=[{"group": "Systems Engineering", "reason": "DHCP scope"}])
ANY_BODY = Body(...)
STATUS_WORDS = {
    "reported": "Reported, waiting for SNCC",
    "confirmed": "Confirmed outage",
    "planned": "Planned outage",
    "resolving": "Being resolved",
    "resolved": "Resolved",
    "dismissed": "Not an outage",
}
FORMS = {
    "report": "report_potential",
    "link": "link_incident",
    "unlink": "unlink_incident",
    "confirm": "confirm",
    "dismiss": "dismiss",
    "resolve": "resolve",
    "follow-up": "assign_follow_up",
    "incident": "incident_action",
}


def _page(app: WebApp, request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
    return app.templates.TemplateResponse(
        request, name, {"words": STATUS_WORDS, **ctx}, status_code=status
    )


# ----- public -------------------------------------------------------------------------------


@router.get("/status/outages", response_class=HTMLResponse)
async def public_outages(request: Request, app: WebApp = APP):
    """Confirmed outages in progress, for callers to be pointed at (read-only, public)."""
    rows = await app.read(processes.public_outages)
    return _page(app, request, "public/outages.html", rows=rows, staff=None)


@api.get("/outages/public", summary="Confirmed outages in progress (public, read-only)")
async def public_outages_json(app: WebApp = APP) -> list[dict[str, Any]]:
    rows = await app.read(processes.public_outages)
    return [
        {
            "service": r.service,
            "summary": r.summary,
            "note": r.public_note,
            "status": r.status,
            "since": (r.confirmed_at or r.updated_at).isoformat(),
        }
        for r in rows
    ]


# ----- staff console ----------------------------------------------------------------------


@router.get("/outages", response_class=HTMLResponse)
async def outages_page(request: Request, staff: Staff = DESK, app: WebApp = APP):
    rows = await app.read(processes.all_outages)
    return _page(
        app,
        request,
        "staff/outages.html",
        staff=staff,
        rows=rows,
        errors={},
        values={},
        section="outages",
    )


@router.get("/outages/{outage_id}", response_class=HTMLResponse)
async def outage_page(request: Request, outage_id: str, staff: Staff = DESK, app: WebApp = APP):
    s = await ops.outage_state(await app.client(), outage_id)
    return _page(
        app,
        request,
        "staff/outage.html",
        staff=staff,
        s=s,
        errors={},
        values={},
        role=outage_role(staff),
        section="outages",
    )


def _form_data(name: str, form: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        k: v.strip() for k, v in form.items() if k != "csrf_token" and v.strip()
    }
    if name == "report_potential":
        data["incidents"] = data.get("incidents", "").replace(",", " ").split()
    return data


@router.post("/outages/{outage_id}/{form_name}")
async def outage_form(
    request: Request, outage_id: str, form_name: str, staff: Staff = DESK, app: WebApp = APP
):
    if form_name not in FORMS:
        raise FieldError(404, f"no outage action {form_name}")
    name = FORMS[form_name]
    raw = {k: str(v) for k, v in (await request.form()).items()}
    try:
        await outage_update(app, staff, outage_id, name, _form_data(name, raw))
    except FieldError as e:
        if e.status not in (403, 409, 422):
            raise
        if name == "report_potential":
            rows = await app.read(processes.all_outages)
            return _page(
                app,
                request,
                "staff/outages.html",
                e.status,
                staff=staff,
                rows=rows,
                errors=e.errors or {"_form": e.message},
                values=raw,
                section="outages",
            )
        s = await ops.outage_state(await app.client(), outage_id)
        return _page(
            app,
            request,
            "staff/outage.html",
            e.status,
            staff=staff,
            s=s,
            errors=e.errors or {"_form": e.message},
            values=raw,
            role=outage_role(staff),
            section="outages",
        )
    return RedirectResponse(f"/outages/{outage_id}", status_code=303)


@router.get("/triage", response_class=HTMLResponse)
async def triage_page(request: Request, staff: Staff = DESK, app: WebApp = APP):
    since = processes.start_of_day(datetime.now(UTC), app.tz)
    rows = await app.read(processes.triage_since, since)
    return _page(app, request, "staff/triage.html", staff=staff, rows=rows, section="triage")


# ----- JSON API -----------------------------------------------------------------------------


@api.get("/outages", summary="Outages from the projection, newest first")
async def outages_json(staff: Staff = DESK, app: WebApp = APP) -> list[dict[str, Any]]:
    rows = await app.read(processes.all_outages)
    return [
        {
            "outage_id": r.outage_id,
            "status": r.status,
            "service": r.service,
            "summary": r.summary,
            "problem_id": r.problem_id,
            "owner_team": r.owner_team,
            "linked": r.linked,
            "resolved": r.resolved,
        }
        for r in rows
    ]


@api.get("/outages/{outage_id}", summary="One outage: its state query")
async def outage_json(outage_id: str, staff: Staff = DESK, app: WebApp = APP) -> dict[str, Any]:
    return (await ops.outage_state(await app.client(), outage_id)).model_dump(mode="json")


@api.post(
    "/outages/{outage_id}/incidents",
    summary="Any agent: link an incident to the outage in one action (update-with-start)",
)
async def link_json(
    outage_id: str,
    body: dict[str, Any] = LINK_BODY,
    staff: Staff = DESK,
    app: WebApp = APP,
) -> Any:
    return await outage_update(app, staff, outage_id, "link_incident", body)


@api.post(
    "/outages/{outage_id}/{name}",
    summary="An outage update: " + ", ".join(UPDATES) + " (the actor is the signed-in person)",
)
async def outage_update_json(
    outage_id: str,
    name: str,
    body: dict[str, Any] = ANY_BODY,
    staff: Staff = DESK,
    app: WebApp = APP,
) -> Any:
    result = await outage_update(app, staff, outage_id, name, body)
    return result.model_dump(mode="json") if hasattr(result, "model_dump") else result


@api.get("/triage", summary="Today's triage decisions with their rules")
async def triage_json(staff: Staff = DESK, app: WebApp = APP) -> list[dict[str, Any]]:
    since = processes.start_of_day(datetime.now(UTC), app.tz)
    rows = await app.read(processes.triage_since, since)
    return [
        {
            "itsm": r.itsm,
            "ticket_id": r.ticket_id,
            "summary": r.summary,
            "department": r.department,
            "outcome": r.outcome,
            "group": r.group,
            "rule_id": r.rule_id,
            "rule": r.rule,
            "flags": r.flags,
            "reassignments": r.reassignments,
            "decided_at": r.decided_at.isoformat(),
        }
        for r in rows
    ]


@api.get("/triage/{itsm}/{ticket_id}", summary="One ticket's triage: decision, flags, moves")
async def triage_state_json(
    itsm: str, ticket_id: str, staff: Staff = DESK, app: WebApp = APP
) -> dict[str, Any]:
    if itsm not in ("halo", "servicenow"):
        raise FieldError(404, f"unknown ITSM {itsm}", "itsm")
    return await ops.triage_state(await app.client(), itsm, ticket_id)  # type: ignore[arg-type]


@api.post(
    "/triage/{itsm}/{ticket_id}/reassign",
    summary="Move a ticket to another group (a boomerang is refused with its rule)",
)
async def reassign_json(
    itsm: str,
    ticket_id: str,
    body: dict[str, Any] = REASSIGN_BODY,
    staff: Staff = DESK,
    app: WebApp = APP,
) -> dict[str, Any]:
    if itsm not in ("halo", "servicenow"):
        raise FieldError(404, f"unknown ITSM {itsm}", "itsm")
    data = {**body, "by": staff.name} if isinstance(body, dict) else body
    return await ops.reassign(await app.client(), itsm, ticket_id, data)  # type: ignore[arg-type]
