"""Staff page of bulk reschedule: many tickets to one slot, or every customer picks again."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from operations.errors import FieldError
from web import actions, forms, queries, schemas
from web.deps import App, TicketAdmin
from web.pages.render import page

router = APIRouter(include_in_schema=False)


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
    staff: TicketAdmin,
    app: App,
    team: str | None = None,
    batch: str | None = None,
):
    return await _bulk_page(app, request, staff, team, batch)


@router.post("/bulk/reschedule", response_class=HTMLResponse)
async def bulk_reschedule(request: Request, staff: TicketAdmin, app: App, team: str | None = None):
    form = await request.form()
    try:
        data = forms.body(schemas.BulkReschedule, forms.nested(form, lists=("ticket_ids",)))
    except FieldError as e:
        return await _bulk_page(app, request, staff, team, None, None, e.errors, 422)
    result = await actions.bulk_reschedule(
        app, staff, data["ticket_ids"], data.get("slot_id"), data.get("reason", "")
    )
    return await _bulk_page(app, request, staff, team, None, result)
