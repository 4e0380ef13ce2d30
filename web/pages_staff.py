"""Staff console pages: tickets, Problems, ticket detail and actions, batches, order groups,
bulk reschedule, configs, the slot calendar and its ICS feed."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.refresh import EDITABLE, PROBLEM_STATUSES, Status
from operations import tickets
from operations.errors import FieldError, not_found
from web import actions, forms, queries, schemas
from web.auth import login_redirect
from web.deps import WebApp, current_staff, staff_with, web_app
from web.security import Perm, Staff

router = APIRouter(include_in_schema=False)
APP = Depends(web_app)
VIEW = Depends(staff_with(Perm.view_tickets))
ADMIN = Depends(staff_with(Perm.admin_tickets))
CONFIGS = Depends(staff_with(Perm.view_configs))
SLOTS = Depends(staff_with(Perm.view_slots))
SLOT_ADMIN = Depends(staff_with(Perm.admin_slots))
STUCK_SCAN_LIMIT = 200  # open tickets described() per Problems view
CALENDAR_WEEKS = 5


def page(
    app: WebApp, request: Request, name: str, staff: Staff, status: int = 200, **ctx: Any
) -> Response:
    return app.templates.TemplateResponse(
        request, name, {"staff": staff, **ctx}, status_code=status
    )


@router.get("/", response_class=HTMLResponse)
async def home(request: Request):
    staff = await current_staff(request)
    if staff is None:
        return login_redirect(request)
    for perm, target in (
        (Perm.view_tickets, "/tickets"),
        (Perm.approve, "/approvals"),
        (Perm.view_slots, "/slots"),
        (Perm.desk, "/outages"),
    ):
        if staff.can(perm):
            return RedirectResponse(target, status_code=303)
    raise FieldError(403, "your account has no deskflow role yet; ask a Refresh Administrator")


# ----- tickets and problems ---------------------------------------------------------------


@router.get("/tickets", response_class=HTMLResponse)
async def tickets_page(
    request: Request,
    status: str | None = None,
    team: str | None = None,
    style: str | None = None,
    batch: str | None = None,
    config: str | None = None,
    q: str | None = None,
    offset: int = Query(0, ge=0),
    staff: Staff = VIEW,
    app: WebApp = APP,
):
    flt = queries.TicketFilter(
        status or None, team or None, style or None, batch or None, config or None, q or None
    )
    limit = 100
    rows, total = await app.read(queries.list_tickets, flt, limit=limit, offset=offset)
    choices = await app.read(queries.filter_choices)
    params = {k: v for k, v in flt.__dict__.items() if v}

    def page_url(at: int) -> str:
        return "/tickets?" + urlencode({**params, "offset": max(at, 0)})

    return page(
        app,
        request,
        "staff/tickets.html",
        staff,
        rows=rows,
        total=total,
        flt=flt.__dict__,
        choices=choices,
        offset=offset,
        limit=limit,
        page_url=page_url,
        problem_statuses={s.value for s in PROBLEM_STATUSES},
    )


async def problems_data(app: WebApp) -> dict[str, Any]:
    """Problems focus: tickets waiting on a person, failed emails, stuck activities."""
    problem_rows = await app.read(queries.problem_tickets)
    failed = await app.read(queries.failed_emails)
    open_ids, open_total = await app.read(queries.open_ticket_ids, STUCK_SCAN_LIMIT)
    stuck = await tickets.stuck_activities(await app.client(), open_ids)
    return {
        "tickets": problem_rows,
        "failed_emails": failed,
        "stuck": stuck,
        "checked": len(open_ids),
        "open_total": open_total,
    }


@router.get("/problems", response_class=HTMLResponse)
async def problems_page(request: Request, staff: Staff = VIEW, app: WebApp = APP):
    data = await problems_data(app)
    return page(
        app, request, "staff/problems.html", staff, stuck_attempts=tickets.STUCK_ATTEMPTS, **data
    )


NOTICES = {
    "provide_location": "Location provided.",
    "hold": "The ticket is on hold.",
    "release": "The hold is released.",
    "reschedule": "The ticket is rescheduled; the customer gets a new confirmation.",
    "trigger_customer_reschedule": "The customer is asked to pick a new time.",
    "cancel": "The ticket is cancelled.",
    "exchange_replacement": "The replacement system is exchanged.",
    "set_tracking": "Tracking number saved.",
    "edit": "Changes saved.",
}


async def _ticket_page(
    app: WebApp,
    request: Request,
    staff: Staff,
    ticket_id: str,
    errors: dict[str, str] | None = None,
    form_name: str | None = None,
    status: int = 200,
) -> Response:
    d = await actions.staff_ticket(app, ticket_id)
    s = d["state"]
    slots = await app.read(queries.free_slots, s.support_team, app.now())
    edit = None
    if staff.can(Perm.admin_tickets) and s.status in EDITABLE:
        edit = forms.edit_choices(s, await actions.ticket_config(app, s.config_id))
    return page(
        app,
        request,
        "staff/ticket.html",
        staff,
        status,
        s=s,
        pending=d["pending"],
        events=d["events"],
        emails=d["emails"],
        slot_choices=[
            (sl.id, f"{app.when(sl.start_at)} · {sl.location} ({sl.capacity - sl.booked} free)")
            for sl in slots
        ],
        edit=edit,
        edit_action=f"/tickets/{ticket_id}/edit",
        errors=errors or {},
        form_name=form_name,
        notice=NOTICES.get(request.query_params.get("done", "")),
    )


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
async def ticket_page(request: Request, ticket_id: str, staff: Staff = VIEW, app: WebApp = APP):
    return await _ticket_page(app, request, staff, ticket_id)


ACTION_BODIES: dict[str, Any] = {
    "provide_location": schemas.ProvideLocationBody,
    "hold": schemas.HoldBody,
    "release": schemas.ReleaseBody,
    "reschedule": schemas.RescheduleBody,
    "trigger_customer_reschedule": schemas.TriggerRescheduleBody,
    "cancel": schemas.CancelBody,
    "exchange_replacement": schemas.ExchangeBody,
    "set_tracking": schemas.TrackingBody,
}


def _register_action(name: str, perm: Perm) -> None:
    allowed = Depends(staff_with(perm))

    async def handler(
        request: Request,
        ticket_id: str,
        staff: Staff = allowed,
        app: WebApp = APP,
    ):
        form = await request.form()
        try:
            if name == "edit":
                s = await tickets.state(await app.client(), ticket_id)
                cfg = await actions.ticket_config(app, s.config_id)
                await actions.edit_ticket(
                    app,
                    staff,
                    ticket_id,
                    forms.body(schemas.EditBody, forms.edit_body(form, s, cfg)),
                )
            else:
                data = forms.body(ACTION_BODIES[name], forms.nested(form))
                await actions.staff_action(app, staff, ticket_id, name, data)
        except FieldError as e:
            if e.status not in (409, 422):
                raise
            return await _ticket_page(
                app, request, staff, ticket_id, e.errors or {"_form": e.message}, name, e.status
            )
        return RedirectResponse(f"/tickets/{ticket_id}?done={name}", status_code=303)

    handler.__name__ = f"ticket_{name}"
    router.add_api_route(f"/tickets/{{ticket_id}}/{name}", handler, methods=["POST"])


for _name, (_perm, _) in actions.STAFF_ACTIONS.items():
    _register_action(_name, _perm)
_register_action("edit", Perm.admin_tickets)


# ----- batches ---------------------------------------------------------------------------------


async def _batches_page(app, request, staff, errors=None, values=None, status=200) -> Response:
    configs = [(c.id, f"{c.id}: {c.name}") for c in await app.read(queries.configs)]
    return page(
        app,
        request,
        "staff/batches.html",
        staff,
        status,
        batches=await app.read(queries.batches),
        configs=configs,
        errors=errors or {},
        values=values or {},
    )


@router.get("/batches", response_class=HTMLResponse)
async def batches_page(request: Request, staff: Staff = ADMIN, app: WebApp = APP):
    return await _batches_page(app, request, staff)


@router.post("/batches/preview", response_class=HTMLResponse)
async def batch_preview(request: Request, staff: Staff = ADMIN, app: WebApp = APP):
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("config_id", "batch_id", "csv_text")}
    upload = form.get("file")
    text, source = values["csv_text"], "pasted"
    try:
        if upload is not None and not isinstance(upload, str) and upload.filename:
            raw = await upload.read()
            try:
                text, source = raw.decode("utf-8-sig"), upload.filename
            except UnicodeDecodeError:
                raise FieldError(
                    422, "the file is not UTF-8 text (save it as CSV UTF-8)", "csv"
                ) from None
        if not text.strip():
            raise FieldError(422, "choose a CSV file or paste its lines", "csv")
        actions.check_batch_id(values["batch_id"])
        if await app.read(queries.config_row, values["config_id"]) is None:
            raise FieldError(422, "choose a refresh config", "config_id")
        rows, refused = actions.preview_batch(text)
    except FieldError as e:
        return await _batches_page(app, request, staff, e.errors, values, e.status)
    return page(
        app,
        request,
        "staff/batch_preview.html",
        staff,
        rows=rows,
        refused=refused,
        csv=text,
        config_id=values["config_id"],
        batch_id=values["batch_id"],
        source_name=source,
    )


@router.post("/batches")
async def batch_create(request: Request, staff: Staff = ADMIN, app: WebApp = APP):
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("config_id", "batch_id", "csv", "source_name")}
    try:
        batch_id = await actions.start_batch(
            app,
            staff,
            values["config_id"],
            values["batch_id"],
            values["csv"],
            values["source_name"] or "upload",
        )
    except FieldError as e:
        if e.status not in (409, 422):
            raise
        values["csv_text"] = values.pop("csv")
        return await _batches_page(app, request, staff, e.errors, values, e.status)
    return RedirectResponse(f"/batches/{batch_id}", status_code=303)


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
async def batch_page(request: Request, batch_id: str, staff: Staff = ADMIN, app: WebApp = APP):
    row = await app.read(queries.batch, batch_id)
    if row is None:
        raise not_found(f"no batch {batch_id}")
    progress = await tickets.batch_progress(await app.client(), batch_id)
    return page(app, request, "staff/batch.html", staff, batch=row, p=progress)


# ----- order groups and bulk reschedule -----------------------------------------------------------


async def _order_group_page(
    app, request, staff, config, batch, result=None, errors=None, values=None, status=200
):
    flt = queries.TicketFilter(config=config or None, batch=batch or None)
    rows = await app.read(queries.tickets_in_status, [Status.pending_ordering.value], flt)
    proposed: dict[str, str] = {}
    for cfg in await app.read(queries.configs):
        for r in rows:
            if r.config_id == cfg.id:
                platform = (r.state or {}).get("existing_system", {}).get("platform", "windows")
                proposed[r.ticket_id] = (cfg.proposed_models or {}).get(platform, "")
    query = urlencode({k: v for k, v in (("config", config), ("batch", batch)) if v})
    return page(
        app,
        request,
        "staff/order_groups.html",
        staff,
        status,
        rows=rows,
        proposed=proposed,
        flt=flt.__dict__,
        choices=await app.read(queries.filter_choices),
        result=result,
        errors=errors or {},
        values=values or {},
        query=query,
    )


@router.get("/order-groups", response_class=HTMLResponse)
async def order_groups(
    request: Request,
    config: str | None = None,
    batch: str | None = None,
    staff: Staff = ADMIN,
    app: WebApp = APP,
):
    return await _order_group_page(app, request, staff, config, batch)


def _assignments(form: Any) -> list[dict[str, Any]]:
    """Rows of the table with a serial filled in (ticket_i, serial_i, platform_i, model_i)."""
    found = []
    for i in range(int(form.get("rows") or 0)):
        serial = str(form.get(f"serial_{i}", "")).strip()
        if serial:
            found.append(
                {
                    "ticket_id": str(form.get(f"ticket_{i}", "")),
                    "replacement": {
                        "serial": serial,
                        "platform": str(form.get(f"platform_{i}", "")),
                        "model": str(form.get(f"model_{i}", "")).strip(),
                    },
                }
            )
    return found


@router.post("/order-groups", response_class=HTMLResponse)
async def order_groups_assign(
    request: Request,
    config: str | None = None,
    batch: str | None = None,
    staff: Staff = ADMIN,
    app: WebApp = APP,
):
    form = await request.form()
    group = str(form.get("group", "")).strip() or None
    text = str(form.get("csv", "")).strip()
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    rows = _assignments(form)
    try:
        if not rows and not text:
            raise FieldError(
                422, "enter a replacement serial for at least one ticket, or paste a CSV", "_form"
            )
        result = {"done": [], "refused": [], "results": []}
        if rows:
            result = await actions.assign_replacements(app, staff, group, rows)
        if text:
            more = await actions.assign_replacements_csv(app, staff, group, text)
            result = {k: result[k] + more[k] for k in result}
    except FieldError as e:
        return await _order_group_page(
            app, request, staff, config, batch, None, e.errors, values, e.status
        )
    return await _order_group_page(app, request, staff, config, batch, result)


async def _bulk_page(app, request, staff, team, batch, result=None, errors=None, status=200):
    choices = await app.read(queries.filter_choices)
    team = team or (choices["team"][0] if choices["team"] else "")
    flt = queries.TicketFilter(team=team, batch=batch or None)
    rows = await app.read(queries.tickets_in_status, list(actions.RESCHEDULABLE), flt)
    rows = [r for r in rows if r.style in ("on_prem", "unit_location")]
    slots = await app.read(queries.free_slots, team, app.now()) if team else []
    return page(
        app,
        request,
        "staff/bulk_reschedule.html",
        staff,
        status,
        rows=rows,
        team=team,
        flt=flt.__dict__,
        choices=choices,
        slot_choices=[
            (s.id, f"{app.when(s.start_at)} · {s.location} ({s.capacity - s.booked} free)")
            for s in slots
        ],
        result=result,
        errors=errors or {},
    )


@router.get("/bulk/reschedule", response_class=HTMLResponse)
async def bulk_reschedule_page(
    request: Request,
    team: str | None = None,
    batch: str | None = None,
    staff: Staff = ADMIN,
    app: WebApp = APP,
):
    return await _bulk_page(app, request, staff, team, batch)


@router.post("/bulk/reschedule", response_class=HTMLResponse)
async def bulk_reschedule(
    request: Request, team: str | None = None, staff: Staff = ADMIN, app: WebApp = APP
):
    form = await request.form()
    try:
        data = forms.body(schemas.BulkReschedule, forms.nested(form, lists=("ticket_ids",)))
    except FieldError as e:
        return await _bulk_page(app, request, staff, team, None, None, e.errors, 422)
    result = await actions.bulk_reschedule(
        app, staff, data["ticket_ids"], data.get("slot_id"), data.get("reason", "")
    )
    return await _bulk_page(app, request, staff, team, None, result)


# ----- configs ---------------------------------------------------------------------------


@router.get("/configs", response_class=HTMLResponse)
async def configs_page(request: Request, staff: Staff = CONFIGS, app: WebApp = APP):
    return page(app, request, "staff/configs.html", staff, configs=await app.read(queries.configs))


@router.get("/configs/{config_id}", response_class=HTMLResponse)
async def config_page(request: Request, config_id: str, staff: Staff = CONFIGS, app: WebApp = APP):
    row = await app.read(queries.config_row, config_id)
    if row is None:
        raise not_found(f"no refresh config {config_id}")
    return page(
        app,
        request,
        "staff/config.html",
        staff,
        row=row,
        c=await app.read(queries.config, config_id),
    )


# ----- schedule slots --------------------------------------------------------------------


def feed_url(app: WebApp, team_id: str) -> str:
    return f"{app.settings.public_url}/teams/{team_id}/slots.ics?key={app.tokens.feed_key(team_id)}"


def _week_start(app: WebApp, start: date | None) -> datetime:
    """Midnight (local) of the Monday of `start`'s week, or of this week."""
    day = start or app.now().astimezone(app.tz).date()
    monday = day - timedelta(days=day.weekday())
    return datetime.combine(monday, time(0), tzinfo=app.tz)


async def _slots_page(
    app, request, staff, team_id, errors=None, values=None, status=200, start: date | None = None
) -> Response:
    teams = await app.read(queries.teams)
    team = next((t for t in teams if t.id == team_id), teams[0] if teams and not team_id else None)
    if team_id and team is None:
        raise not_found(f"no support team {team_id}")
    days: list[tuple[str, list]] = []
    prefs = []
    begin = _week_start(app, start)
    if team is not None:
        end = begin + timedelta(weeks=CALENDAR_WEEKS)
        found = await app.read(queries.team_calendar, team.id, begin, end)
        by_day: dict[str, list] = defaultdict(list)
        for slot, booked in found:
            by_day[app.day(slot.start_at)].append((slot, booked))
        days = list(by_day.items())
        prefs = await actions.list_preferences(app, team.id)
    notice = None
    if request.query_params.get("done") == "deleted":
        n = request.query_params.get("notified", "0")
        notice = f"Slot deleted; {n} customer(s) asked to reschedule."
    elif request.query_params.get("done") == "preference":
        notice = "Preferences saved; new slots follow them from the next nightly run."
    return page(
        app,
        request,
        "staff/slots.html",
        staff,
        status,
        teams=[(t.id, t.name) for t in teams],
        team=team,
        days=days,
        prefs=prefs,
        weeks=CALENDAR_WEEKS,
        weekdays=queries.WEEKDAYS,
        weekday_choices=list(enumerate(queries.WEEKDAYS)),
        ics_url=feed_url(app, team.id) if team else None,
        begin=begin,
        earlier=(begin - timedelta(weeks=CALENDAR_WEEKS)).date().isoformat(),
        later=(begin + timedelta(weeks=CALENDAR_WEEKS)).date().isoformat(),
        errors=errors or {},
        values=values or {},
        notice=notice,
    )


@router.get("/slots", response_class=HTMLResponse)
async def slots_page(
    request: Request,
    team: str | None = None,
    start: date | None = None,
    staff: Staff = SLOTS,
    app: WebApp = APP,
):
    return await _slots_page(app, request, staff, team, start=start)


@router.post("/slots/{slot_id}/delete")
async def slot_delete(slot_id: int, staff: Staff = SLOT_ADMIN, app: WebApp = APP):
    slot = await app.read(queries.slot, slot_id)
    if slot is None:
        raise not_found(f"no slot {slot_id}")
    result = await actions.delete_slot(app, staff, slot_id)
    week = slot.start_at.astimezone(app.tz).date().isoformat()
    query = urlencode(
        {
            "team": slot.team_id,
            "start": week,
            "done": "deleted",
            "notified": len(result["notified"]),
        }
    )
    return RedirectResponse(f"/slots?{query}", status_code=303)


@router.post("/teams/{team_id}/preferences")
async def preference_add(
    request: Request, team_id: str, staff: Staff = SLOT_ADMIN, app: WebApp = APP
):
    form = await request.form()
    values = {
        k: str(form.get(k, ""))
        for k in ("weekday", "start", "length_minutes", "capacity", "location")
    }
    try:
        await actions.add_preference(app, team_id, forms.nested(form))
    except FieldError as e:
        if e.status != 422:
            raise
        return await _slots_page(app, request, staff, team_id, e.errors, values, 422)
    return RedirectResponse(f"/slots?team={team_id}&done=preference", status_code=303)


@router.post("/teams/{team_id}/preferences/{pref_id}/delete")
async def preference_delete(
    team_id: str, pref_id: int, staff: Staff = SLOT_ADMIN, app: WebApp = APP
):
    await actions.delete_preference(app, team_id, pref_id)
    return RedirectResponse(f"/slots?team={team_id}&done=preference", status_code=303)


@router.get("/teams/{team_id}/slots.ics")
async def slots_ics(request: Request, team_id: str, key: str | None = None, app: WebApp = APP):
    """A team's slot feed: for staff signed in, or with the subscription key from /slots."""
    if not app.tokens.feed_key_ok(key, team_id):
        staff = await current_staff(request)
        if staff is None:
            raise FieldError(
                403, "this calendar link needs its key; copy it from the Schedule slots page"
            )
        if not staff.can(Perm.view_slots):
            raise FieldError(403, "you do not have the role this needs")
    body = await actions.team_feed(app, team_id)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
