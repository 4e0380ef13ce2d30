"""Staff pages of tickets: the list, the Problems focus, one ticket and its action forms.

The action forms are made from `web.actions.STAFF_ACTIONS`, the table the API's routes come
from too (web.routes.tickets).
"""

# No `from __future__ import annotations`: the generated handlers' annotations must be the
# dependency aliases themselves.

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.refresh import EDITABLE, PROBLEM_STATUSES
from operations import tickets
from operations.errors import FieldError
from web import actions, forms, queries, schemas
from web.deps import STAFF_WITH, App, TicketManager, TicketViewer, WebApp
from web.pages.render import page
from web.security import Perm, Staff

router = APIRouter(include_in_schema=False)


@router.get("/tickets", response_class=HTMLResponse)
async def tickets_page(
    request: Request,
    staff: TicketViewer,
    app: App,
    status: str | None = None,
    team: str | None = None,
    style: str | None = None,
    batch: str | None = None,
    config: str | None = None,
    q: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
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


@router.get("/problems", response_class=HTMLResponse)
async def problems_page(request: Request, staff: TicketViewer, app: App):
    data = await actions.problems_data(app)
    return page(
        app, request, "staff/problems.html", staff, stuck_attempts=tickets.STUCK_ATTEMPTS, **data
    )


NOTICES = {
    "send_invite_now": "The invite is on its way to the customer.",
    "check_tdx_now": "deskflow is looking at TDX again; reload in a moment.",
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
        edit = forms.edit_choices(s, await actions.ticket_config(app, s.config_id, s))
    return page(
        app,
        request,
        "staff/ticket.html",
        staff,
        status,
        s=s,
        config_versions={a.seq: a.detail.get("config_version") for a in d["audits"] if a.detail},
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
async def ticket_page(request: Request, ticket_id: str, staff: TicketViewer, app: App):
    return await _ticket_page(app, request, staff, ticket_id)


def _register_action(name: str, perm: Perm) -> None:
    """POST /tickets/{ticket_id}/{name}: the form of one staff action on the ticket page."""
    allowed = STAFF_WITH[perm]

    async def handler(request: Request, ticket_id: str, staff: allowed, app: App):  # type: ignore[valid-type]
        form = await request.form()
        try:
            if name == "edit":
                s = await tickets.state(await app.client(), ticket_id)
                cfg = await actions.ticket_config(app, s.config_id, s)
                await actions.edit_ticket(
                    app,
                    staff,
                    ticket_id,
                    forms.body(schemas.EditBody, forms.edit_body(form, s, cfg)),
                )
            else:
                data = forms.body(actions.STAFF_ACTIONS[name].body, forms.nested(form))
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


@router.post("/tickets/{ticket_id}/check_tdx_now")
async def ticket_check_tdx_now(
    request: Request,
    ticket_id: str,
    staff: TicketManager,
    app: App,
):
    try:
        await actions.check_tdx_now(app, staff, ticket_id)
    except FieldError as e:
        if e.status != 409:
            raise
        return await _ticket_page(
            app, request, staff, ticket_id, {"_form": e.message}, "check_tdx_now", e.status
        )
    return RedirectResponse(f"/tickets/{ticket_id}?done=check_tdx_now", status_code=303)


for _name, _action in actions.STAFF_ACTIONS.items():
    _register_action(_name, _action.perm)
_register_action("edit", Perm.admin_tickets)
