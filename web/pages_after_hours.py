"""After-hours pages (seed 004): the agent's intake, the case with the words to read out,
the responders' links in a page, and the leads' view of the night.

* `/after-hours`: the intake form. It says at once whether CPS is open; the partner list
  shows each partner as former AIMS or legacy DS with its on-call schedule.
* `/after-hours/{case}`: the case: what to read to the caller, who was paged when, the
  callback promise; buttons to record an acknowledgement, the callback, the end.
* `/after-hours/r/{token}/acknowledge|contacted`: the links in a page. The signed token is
  the credential (one case, one person); a GET only shows a button, a POST acts.
* `/after-hours/night`: the night's cases for help-desk leads, promises kept or missed.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.after_hours import AfterHoursDesk, CaseState, PartnerKind
from domain.business_calendar import _zone
from domain.responder_links import LinkError, verify
from operations import after_hours as cases
from operations.errors import FieldError
from store import after_hours as store
from web.deps import WebApp, staff_with, web_app
from web.forms import nested
from web.security import Perm, Staff

router = APIRouter(include_in_schema=False)
APP = Depends(web_app)
DESK = Depends(staff_with(Perm.after_hours))
KIND = {PartnerKind.aims: "former AIMS", PartnerKind.legacy_ds: "legacy DS"}
STATUS_WORDS = {
    "opening": "Taking the call",
    "refused": "Refused",
    "help_desk_case": "Help-desk case",
    "incident": "Incident in EAST",
    "paging": "Paging",
    "leadership": "Leadership paged",
    "acknowledged": "Acknowledged",
    "contacted": "Customer reached",
    "resolved": "Resolved",
    "unanswered": "Never answered",
}
YES_NO = ("hd_solvable", "personal_computer", "critical")


async def _desk(app: WebApp) -> AfterHoursDesk:
    s = app.settings
    return await app.read(cases.read_desk, app.now(), s.timezone, s.itsm)


def _cps(desk: AfterHoursDesk, now: datetime, app: WebApp) -> dict[str, Any]:
    if desk.cps_open(now):
        return {
            "open": True,
            "words": f"CPS is open now: transfer the caller to CPS at "
            f"{desk.spec.cps_phone}. This is not an after-hours call.",
        }
    opens = app.when(desk.cps_opens(now), "%A %B %-d at %-I:%M %p")
    return {
        "open": False,
        "words": f"CPS is closed: after-hours handling applies. CPS opens {opens}.",
    }


def _intake_page(
    request: Request, app: WebApp, staff: Staff, desk: AfterHoursDesk, **ctx: Any
) -> Response:
    partners = [
        (p.id, f"{p.name} — {KIND[p.kind]} ({desk.schedule(p.schedule).name})")
        for p in desk.spec.partners
    ]
    return app.templates.TemplateResponse(
        request,
        "after_hours/intake.html",
        {
            "staff": staff,
            "partners": partners,
            "cps": _cps(desk, app.now(), app),
            "case_id": ctx.pop("case_id", None) or f"AH-{secrets.token_hex(5)}",
            "values": ctx.pop("values", {}),
            "errors": ctx.pop("errors", {}),
            **ctx,
        },
    )


@router.get("/after-hours", response_class=HTMLResponse)
async def intake_form(request: Request, staff: Staff = DESK, app: WebApp = APP):
    return _intake_page(request, app, staff, await _desk(app))


@router.post("/after-hours", response_class=HTMLResponse)
async def intake_submit(request: Request, staff: Staff = DESK, app: WebApp = APP):
    desk = await _desk(app)
    data = nested(await request.form())
    for name in YES_NO:
        data[name] = data.get(name) == "yes"
    data["agent"] = {"name": staff.name, "email": staff.email}
    try:
        intake = cases.check_call(desk, data, app.now())
    except FieldError as e:
        page = _intake_page(
            request, app, staff, desk, values=data, errors=e.errors, case_id=data.get("case_id")
        )
        page.status_code = e.status
        return page
    await cases.open_case(await app.client(), app.settings.task_queue, intake)
    return RedirectResponse(f"/after-hours/case/{intake.case_id}", status_code=303)


@router.get("/after-hours/case/{case_id}", response_class=HTMLResponse)
async def case_page(case_id: str, request: Request, staff: Staff = DESK, app: WebApp = APP):
    s = await cases.case_state(await app.client(), case_id)
    desk = await _desk(app)
    return app.templates.TemplateResponse(
        request,
        "after_hours/case.html",
        {
            "staff": staff,
            "s": s,
            "words": STATUS_WORDS,
            "responders": [(r.id, r.name) for r in desk.spec.responders],
            "paged": [(p.person, p.name) for p in s.pages],
        },
    )


@router.post("/after-hours/case/{case_id}/{action}")
async def case_action(
    case_id: str, action: str, request: Request, staff: Staff = DESK, app: WebApp = APP
):
    data = nested(await request.form())
    if action == "resolve":
        data = {"by": staff.name, **({"note": data["note"]} if data.get("note") else {})}
    await cases.act(await app.client(), case_id, action, data)
    return RedirectResponse(f"/after-hours/case/{case_id}", status_code=303)


# ----- the links in a page ---------------------------------------------------------------

RESPONDER_ACTIONS = {"acknowledge": "acknowledge", "contacted": "technician_contacted"}


def _responder(app: WebApp, token: str, action: str) -> tuple[str, str, str]:
    if action not in RESPONDER_ACTIONS:
        raise FieldError(404, "There is no such page.")
    try:
        case_id, person = verify(app.settings.secret_key.get_secret_value(), token)
    except LinkError as e:
        raise FieldError(404, str(e)) from None
    return case_id, person, RESPONDER_ACTIONS[action]


@router.get("/after-hours/r/{token}/{action}", response_class=HTMLResponse)
async def responder_confirm(token: str, action: str, request: Request, app: WebApp = APP):
    case_id, person, _ = _responder(app, token, action)
    s = await cases.case_state(await app.client(), case_id)
    return app.templates.TemplateResponse(
        request,
        "after_hours/responder.html",
        {"staff": None, "s": s, "action": action, "person": person, "done": False},
    )


@router.post("/after-hours/r/{token}/{action}", response_class=HTMLResponse)
async def responder_act(token: str, action: str, request: Request, app: WebApp = APP):
    case_id, person, update = _responder(app, token, action)
    s = await cases.act(await app.client(), case_id, update, {"by": person})
    return app.templates.TemplateResponse(
        request,
        "after_hours/responder.html",
        {"staff": None, "s": s, "action": action, "person": person, "done": True},
    )


# ----- the leads' night ---------------------------------------------------------------------


def night_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """The help desk's night of `day`: from noon that day to noon the next (local)."""
    start = datetime.combine(day, time(12, 0), tzinfo=_zone(tz))
    return start, datetime.combine(day + timedelta(days=1), time(12, 0), tzinfo=_zone(tz))


@router.get("/after-hours/night", response_class=HTMLResponse)
async def night_page(
    request: Request, day: date | None = None, staff: Staff = DESK, app: WebApp = APP
):
    tz = app.settings.timezone
    if day is None:
        local_now = app.now().astimezone(_zone(tz))
        day = local_now.date() - timedelta(days=1 if local_now.hour < 12 else 0)
    start, end = night_bounds(day, tz)
    rows: list[CaseState] = await app.read(store.cases_between, start, end)
    return app.templates.TemplateResponse(
        request,
        "after_hours/night.html",
        {
            "staff": staff,
            "rows": rows,
            "day": day,
            "previous": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "words": STATUS_WORDS,
            "kept": sum(r.promise == "kept" for r in rows),
            "missed": sum(r.promise == "missed" for r in rows),
        },
    )
