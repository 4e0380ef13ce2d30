"""The JSON API under /api: every action of the web app, for operators and other systems.

Authentication: `POST /api/session` with a staff username and password returns a bearer
token (also set as the session cookie); send it as `Authorization: Bearer <token>`. With the
cookie instead, unsafe requests must carry `X-CSRF-Token`. Customers use the token of their
emailed link in the path (`/api/c/{token}/...`). A refused request answers 4xx with
`{"detail", "field", "errors": [{"field", "message"}]}`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from domain.refresh import EDITABLE, Status, TicketState
from operations import tickets
from operations.errors import not_found
from store.slot_preferences import PreferenceInput
from store.tables import ScheduleSlot, Ticket
from web import actions, queries, schemas, wizard
from web.auth import sign_in, sign_out
from web.deps import Customer, WebApp, any_staff, customer, staff_with, web_app
from web.security import Perm, Staff

router = APIRouter(prefix="/api", tags=["deskflow"])

VIEW = Depends(staff_with(Perm.view_tickets))
MANAGE = Depends(staff_with(Perm.manage_tickets))
ADMIN = Depends(staff_with(Perm.admin_tickets))
APPROVER = Depends(staff_with(Perm.approve))
EDITOR = Depends(staff_with(Perm.admin_tickets, Perm.approve))
CONFIGS = Depends(staff_with(Perm.view_configs))
SLOTS = Depends(staff_with(Perm.view_slots))
SLOT_ADMIN = Depends(staff_with(Perm.admin_slots))
APP = Depends(web_app)
STAFF = Depends(any_staff)
SLOTS_FROM = Query(None, description="from (default: now)")
CUSTOMER = Depends(customer)


def ticket_json(row: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": row.ticket_id,
        "status": row.status,
        "style": row.style,
        "config_id": row.config_id,
        "batch_id": row.batch_id,
        "support_team": row.support_team,
        "user": {"uniqname": row.user_uniqname, "name": row.user_name, "email": row.user_email},
        "delegate_email": row.delegate_email,
        "existing_serial": row.existing_serial,
        "replacement_serial": row.replacement_serial,
        "tdx_ticket_id": row.tdx_ticket_id,
        "day1": row.day1.isoformat() if row.day1 else None,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }


def slot_json(s: ScheduleSlot, tickets_on: list[str] | None = None) -> dict[str, Any]:
    out = {
        "slot_id": s.id,
        "team_id": s.team_id,
        "start": s.start_at.isoformat(),
        "end": s.end_at.isoformat(),
        "location": s.location,
        "capacity": s.capacity,
        "booked": s.booked,
        "free": s.capacity - s.booked,
    }
    if tickets_on is not None:
        out["tickets"] = tickets_on
    return out


def state_json(s: TicketState) -> dict[str, Any]:
    return s.model_dump(mode="json")


# ----- session ---------------------------------------------------------------------------------


@router.post("/session", summary="Sign in: returns a bearer token and sets the session cookie")
async def api_login(
    body: schemas.Login, request: Request, response: Response, app: WebApp = APP
) -> dict[str, Any]:
    staff, token = await sign_in(app, request, response, body.username, body.password)
    return {
        "token": token,
        "token_type": "bearer",
        "expires_in": app.config.session_max_age,
        "csrf_token": staff.csrf,
        "username": staff.username,
        "roles": sorted(staff.roles),
    }


@router.delete(
    "/session", status_code=204, summary="Sign out: the token stops working, the cookie is cleared"
)
async def api_logout(response: Response, staff: Staff = STAFF, app: WebApp = APP) -> Response:
    await sign_out(app, staff, response)
    response.status_code = 204
    return response


@router.get("/me")
async def api_me(staff: Staff = STAFF) -> dict[str, Any]:
    return {
        "username": staff.username,
        "name": staff.name,
        "email": staff.email,
        "roles": sorted(staff.roles),
        "approver_of": sorted(staff.approver_configs),
    }


# ----- customers ---------------------------------------------------------------------------------


@router.get("/c/{token}", summary="The customer's own ticket and what happens next")
async def api_customer(who: Customer = CUSTOMER, app: WebApp = APP) -> dict[str, Any]:
    return wizard.customer_view(await actions.customer_state(app, who))


@router.post("/c/{token}/wizard", summary="Submit the Refresh Wizard (update submit_wizard)")
async def api_customer_wizard(
    body: schemas.WizardBody, who: Customer = CUSTOMER, app: WebApp = APP
) -> dict[str, Any]:
    state = await actions.submit_wizard(app, who, body.model_dump(mode="json", exclude_unset=True))
    return wizard.customer_view(state)


@router.get("/c/{token}/slots", summary="Free appointment slots the customer may pick")
async def api_customer_slots(who: Customer = CUSTOMER, app: WebApp = APP) -> list[dict[str, Any]]:
    state = await actions.customer_state(app, who)
    return [slot_json(s) for s in await actions.customer_slots(app, who, state)]


@router.post("/c/{token}/slot", summary="Pick or change the appointment (update pick_slot)")
async def api_customer_pick(
    body: schemas.PickSlotBody, who: Customer = CUSTOMER, app: WebApp = APP
) -> dict[str, Any]:
    return wizard.customer_view(await actions.pick_slot(app, who, body.slot_id))


# ----- tickets ---------------------------------------------------------------------------------


@router.get("/tickets", summary="Tickets from the projection, filtered")
async def api_tickets(
    status: Status | None = None,
    team: str | None = None,
    style: str | None = Query(None, pattern="^(on_prem|remote|unit_location|no_customer)$"),
    batch: str | None = None,
    config: str | None = None,
    q: str | None = Query(None, max_length=100),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    _: Staff = VIEW,
    app: WebApp = APP,
) -> dict[str, Any]:
    flt = queries.TicketFilter(status and status.value, team, style, batch, config, q)
    rows, total = await app.read(queries.list_tickets, flt, limit=limit, offset=offset)
    return {"total": total, "tickets": [ticket_json(r) for r in rows]}


@router.get("/problems", summary="Problems focus: waiting on a person, failed emails, stuck work")
async def api_problems(_: Staff = VIEW, app: WebApp = APP) -> dict[str, Any]:
    from web.pages_staff import problems_data

    data = await problems_data(app)
    return {
        "tickets": [ticket_json(r) for r in data["tickets"]],
        "failed_emails": [
            {
                "ticket_id": e.ticket_id,
                "template": e.template,
                "to": e.to_addr,
                "error": e.error,
                "at": e.created_at.isoformat(),
            }
            for e in data["failed_emails"]
        ],
        "stuck_activities": [
            {
                "ticket_id": p.ticket_id,
                "activity": p.activity,
                "attempt": p.attempt,
                "last_failure": p.last_failure,
            }
            for p in data["stuck"]
        ],
        "checked_open_tickets": data["checked"],
        "open_tickets": data["open_total"],
    }


@router.get("/tickets/{ticket_id}", summary="One ticket: state query, audits, events, emails")
async def api_ticket(ticket_id: str, staff: Staff = VIEW, app: WebApp = APP) -> dict[str, Any]:
    d = await actions.staff_ticket(app, ticket_id)
    s: TicketState = d["state"]
    return {
        "ticket": ticket_json(d["row"]),
        "state": state_json(s),
        "pending_activities": [
            p.__dict__ | {"scheduled": p.scheduled and p.scheduled.isoformat()}
            for p in d["pending"]
        ],
        "audits": [
            {
                "seq": a.seq,
                "at": a.at.isoformat(),
                "actor": a.actor,
                "action": a.action,
                "from_status": a.from_status,
                "to_status": a.to_status,
                "detail": a.detail,
            }
            for a in d["audits"]
        ],
        "events": [
            {"at": e.at.isoformat(), "kind": e.kind, "detail": e.detail} for e in d["events"]
        ],
        "emails": [
            {
                "template": e.template,
                "to": e.to_addr,
                "subject": e.subject,
                "status": e.status,
                "error": e.error,
                "at": e.created_at.isoformat(),
            }
            for e in d["emails"]
        ],
        "links": {"tdx": s.tdx.url, "temporal_ui": app.temporal_ui_link(ticket_id)},
    }


def _state_or_none(result: Any) -> dict[str, Any]:
    if isinstance(result, TicketState):
        return state_json(result)
    return {"accepted": True}


@router.post(
    "/tickets/{ticket_id}/provide_location",
    summary="Refresh Manager: location for pending_location_info",
)
async def api_provide_location(
    ticket_id: str, body: schemas.ProvideLocationBody, staff: Staff = MANAGE, app: WebApp = APP
):
    return _state_or_none(
        await actions.staff_action(
            app, staff, ticket_id, "provide_location", body.model_dump(mode="json")
        )
    )


@router.post("/tickets/{ticket_id}/hold", summary="Refresh Manager: put on hold (timers pause)")
async def api_hold(
    ticket_id: str, body: schemas.HoldBody, staff: Staff = MANAGE, app: WebApp = APP
):
    return _state_or_none(
        await actions.staff_action(app, staff, ticket_id, "hold", body.model_dump(mode="json"))
    )


@router.post("/tickets/{ticket_id}/release", summary="Refresh Manager: release a hold")
async def api_release(
    ticket_id: str, body: schemas.ReleaseBody, staff: Staff = MANAGE, app: WebApp = APP
):
    return _state_or_none(
        await actions.staff_action(app, staff, ticket_id, "release", body.model_dump(mode="json"))
    )


@router.post("/tickets/{ticket_id}/reschedule", summary="Refresh Manager: assign a slot directly")
async def api_reschedule(
    ticket_id: str, body: schemas.RescheduleBody, staff: Staff = MANAGE, app: WebApp = APP
):
    return _state_or_none(
        await actions.staff_action(
            app, staff, ticket_id, "reschedule", body.model_dump(mode="json")
        )
    )


@router.post(
    "/tickets/{ticket_id}/trigger_customer_reschedule",
    status_code=202,
    summary="Refresh Manager: ask the customer to pick again",
)
async def api_trigger_reschedule(
    ticket_id: str, body: schemas.TriggerRescheduleBody, staff: Staff = MANAGE, app: WebApp = APP
):
    return _state_or_none(
        await actions.staff_action(
            app, staff, ticket_id, "trigger_customer_reschedule", body.model_dump(mode="json")
        )
    )


@router.post("/tickets/{ticket_id}/cancel", summary="Refresh Administrator: cancel the ticket")
async def api_cancel(
    ticket_id: str, body: schemas.CancelBody, staff: Staff = ADMIN, app: WebApp = APP
):
    return _state_or_none(
        await actions.staff_action(app, staff, ticket_id, "cancel", body.model_dump(mode="json"))
    )


@router.post(
    "/tickets/{ticket_id}/exchange_replacement",
    status_code=202,
    summary="Refresh Administrator: swap the replacement (never advances)",
)
async def api_exchange(
    ticket_id: str, body: schemas.ExchangeBody, staff: Staff = ADMIN, app: WebApp = APP
):
    return _state_or_none(
        await actions.staff_action(
            app, staff, ticket_id, "exchange_replacement", body.model_dump(mode="json")
        )
    )


@router.post(
    "/tickets/{ticket_id}/set_tracking",
    status_code=202,
    summary="Refresh Administrator: tracking number (remote)",
)
async def api_set_tracking(
    ticket_id: str, body: schemas.TrackingBody, staff: Staff = ADMIN, app: WebApp = APP
):
    return _state_or_none(
        await actions.staff_action(
            app, staff, ticket_id, "set_tracking", body.model_dump(mode="json")
        )
    )


@router.post(
    "/tickets/{ticket_id}/edit",
    summary="Approver or Refresh Administrator: edit until pending_ordering",
)
async def api_edit(
    ticket_id: str, body: schemas.EditBody, staff: Staff = EDITOR, app: WebApp = APP
):
    return state_json(
        await actions.edit_ticket(
            app, staff, ticket_id, body.model_dump(mode="json", exclude_unset=True)
        )
    )


@router.post("/tickets/{ticket_id}/approve", summary="Approver of the ticket's config: approve")
async def api_approve(
    ticket_id: str, body: schemas.ApproveBody, staff: Staff = APPROVER, app: WebApp = APP
):
    return state_json(
        await actions.approver_action(
            app, staff, ticket_id, "approve", body.model_dump(mode="json")
        )
    )


@router.post(
    "/tickets/{ticket_id}/reject", summary="Approver of the ticket's config: reject (cancels)"
)
async def api_reject(
    ticket_id: str, body: schemas.RejectBody, staff: Staff = APPROVER, app: WebApp = APP
):
    return state_json(
        await actions.approver_action(app, staff, ticket_id, "reject", body.model_dump(mode="json"))
    )


@router.post(
    "/tickets/{ticket_id}/request_change",
    summary="Approver: TDX change request (pending_ordering on)",
)
async def api_request_change(
    ticket_id: str, body: schemas.ChangeRequestBody, staff: Staff = APPROVER, app: WebApp = APP
):
    tdx_id = await actions.approver_action(
        app, staff, ticket_id, "request_change", body.model_dump(mode="json")
    )
    return {"tdx_ticket_id": tdx_id}


@router.get("/approvals", summary="Approver: tickets of the configs naming you")
async def api_approvals(staff: Staff = APPROVER, app: WebApp = APP) -> dict[str, Any]:
    rows, total = await app.read(
        queries.list_tickets, queries.TicketFilter(), limit=1000, configs=staff.approver_configs
    )
    return {
        "total": total,
        "pending_approval": [ticket_json(r) for r in rows if r.status == Status.pending_approval],
        "editable": [ticket_json(r) for r in rows if r.status in EDITABLE],
        "tickets": [ticket_json(r) for r in rows],
    }


# ----- batches, order groups, bulk -------------------------------------------------------------


@router.get("/batches")
async def api_batches(_: Staff = ADMIN, app: WebApp = APP) -> list[dict[str, Any]]:
    return [
        {
            "batch_id": b.id,
            "config_id": b.config_id,
            "created_by": b.created_by,
            "created_at": b.created_at.isoformat(),
            "source_name": b.source_name,
            "rows": b.row_count,
        }
        for b in await app.read(queries.batches)
    ]


@router.post("/batches/preview", summary="Parse a serials CSV: the rows and the refused lines")
async def api_batch_preview(body: schemas.BatchPreview, _: Staff = ADMIN) -> dict[str, Any]:
    rows, refused = actions.preview_batch(body.csv)
    return {
        "rows": [r.model_dump(mode="json") for r in rows],
        "refused": [r.model_dump(mode="json") for r in refused],
    }


@router.post(
    "/batches", status_code=201, summary="Create a batch and start its RefreshBatch workflow"
)
async def api_batch_create(
    body: schemas.BatchCreate, staff: Staff = ADMIN, app: WebApp = APP
) -> dict[str, Any]:
    batch_id = await actions.start_batch(
        app, staff, body.config_id, body.batch_id, body.csv, body.source_name
    )
    return {
        "batch_id": batch_id,
        "workflow_id": f"batch-{batch_id}",
        "progress": f"/api/batches/{batch_id}",
    }


@router.get("/batches/{batch_id}", summary="A batch and its workflow's progress query")
async def api_batch(batch_id: str, _: Staff = ADMIN, app: WebApp = APP) -> dict[str, Any]:
    row = await app.read(queries.batch, batch_id)
    if row is None:
        raise not_found(f"no batch {batch_id}")
    progress = await tickets.batch_progress(await app.client(), batch_id)
    return {
        "batch_id": batch_id,
        "config_id": row.config_id,
        "progress": progress.model_dump(mode="json"),
    }


@router.get("/order-groups", summary="pending_ordering tickets, to assign replacements to")
async def api_order_group(
    config: str | None = None, batch: str | None = None, _: Staff = ADMIN, app: WebApp = APP
):
    rows = await app.read(
        queries.tickets_in_status,
        [Status.pending_ordering.value],
        queries.TicketFilter(config=config, batch=batch),
    )
    return [ticket_json(r) for r in rows]


@router.post(
    "/order-groups/assign", summary="Assign replacement systems in bulk (advances each ticket)"
)
async def api_assign(
    body: schemas.AssignReplacements, staff: Staff = ADMIN, app: WebApp = APP
) -> dict[str, Any]:
    items = [a.model_dump(mode="json") for a in body.assignments]
    return await actions.assign_replacements(app, staff, body.group, items)


@router.post("/order-groups/assign-csv", summary="The same from an order-group CSV")
async def api_assign_csv(
    body: schemas.AssignCsv, staff: Staff = ADMIN, app: WebApp = APP
) -> dict[str, Any]:
    return await actions.assign_replacements_csv(app, staff, body.group, body.csv)


@router.post(
    "/bulk/reschedule",
    summary="Reschedule many tickets to one slot, or ask customers to pick again",
)
async def api_bulk_reschedule(
    body: schemas.BulkReschedule, staff: Staff = ADMIN, app: WebApp = APP
) -> dict[str, Any]:
    return await actions.bulk_reschedule(app, staff, body.ticket_ids, body.slot_id, body.reason)


@router.post("/bulk/hold", summary="Put many tickets on hold")
async def api_bulk_hold(
    body: schemas.TicketIds, staff: Staff = MANAGE, app: WebApp = APP
) -> dict[str, Any]:
    return await actions.hold_many(app, staff, body.ticket_ids, body.reason)


@router.post("/bulk/release", summary="Release many held tickets")
async def api_bulk_release(
    body: schemas.TicketIds, staff: Staff = MANAGE, app: WebApp = APP
) -> dict[str, Any]:
    return await actions.release_many(app, staff, body.ticket_ids)


# ----- configs, teams, slots ---------------------------------------------------------------------


@router.get("/configs")
async def api_configs(_: Staff = CONFIGS, app: WebApp = APP) -> list[dict[str, Any]]:
    rows = await app.read(queries.configs)
    return [
        {
            "id": c.id,
            "name": c.name,
            "org": c.org,
            "default_style": c.default_style,
            "requires_approval": c.requires_approval,
        }
        for c in rows
    ]


@router.get("/configs/{config_id}")
async def api_config(config_id: str, _: Staff = CONFIGS, app: WebApp = APP) -> dict[str, Any]:
    row = await app.read(queries.config_row, config_id)
    if row is None:
        raise not_found(f"no refresh config {config_id}")
    view = await app.read(queries.config, config_id)
    return {
        **view.model_dump(mode="json"),
        "default_style": row.default_style,
        "support_team": row.support_team,
    }


@router.get("/teams")
async def api_teams(_: Staff = SLOTS, app: WebApp = APP) -> list[dict[str, Any]]:
    return [
        {
            "id": t.id,
            "name": t.name,
            "default_location": t.default_location,
            "ics": f"/teams/{t.id}/slots.ics?key={app.tokens.feed_key(t.id)}",
        }
        for t in await app.read(queries.teams)
    ]


@router.get(
    "/teams/{team_id}/slots", summary="A team's live slots, with the tickets booked on each"
)
async def api_team_slots(
    team_id: str,
    start: datetime | None = SLOTS_FROM,
    days: int = Query(35, ge=1, le=120),
    _: Staff = SLOTS,
    app: WebApp = APP,
):
    if await app.read(queries.team, team_id) is None:
        raise not_found(f"no support team {team_id}")
    begin = (
        start
        if start is not None and start.tzinfo
        else (start.replace(tzinfo=app.tz) if start else app.now())
    )
    found = await app.read(queries.team_calendar, team_id, begin, begin + timedelta(days=days))
    return [slot_json(s, t) for s, t in found]


@router.delete(
    "/slots/{slot_id}",
    summary="Schedule Slot Admin: delete a slot; its customers are asked to reschedule",
)
async def api_delete_slot(
    slot_id: int, staff: Staff = SLOT_ADMIN, app: WebApp = APP
) -> dict[str, Any]:
    return await actions.delete_slot(app, staff, slot_id)


@router.get("/teams/{team_id}/preferences", summary="A team's Schedule Slot Preferences")
async def api_preferences(
    team_id: str, _: Staff = SLOTS, app: WebApp = APP
) -> list[dict[str, Any]]:
    return [p.model_dump() for p in await actions.list_preferences(app, team_id)]


@router.post(
    "/teams/{team_id}/preferences", status_code=201, summary="Schedule Slot Admin: add a preference"
)
async def api_add_preference(
    team_id: str, body: PreferenceInput, _: Staff = SLOT_ADMIN, app: WebApp = APP
):
    return (await actions.add_preference(app, team_id, body.model_dump())).model_dump()


@router.patch(
    "/teams/{team_id}/preferences/{pref_id}", summary="Schedule Slot Admin: change a preference"
)
async def api_edit_preference(
    team_id: str,
    pref_id: int,
    body: schemas.PreferenceChanges,
    _: Staff = SLOT_ADMIN,
    app: WebApp = APP,
):
    changes = body.model_dump(exclude_none=True)
    return (await actions.edit_preference(app, team_id, pref_id, changes)).model_dump()


@router.delete(
    "/teams/{team_id}/preferences/{pref_id}",
    status_code=204,
    summary="Schedule Slot Admin: remove a preference",
)
async def api_delete_preference(
    team_id: str, pref_id: int, _: Staff = SLOT_ADMIN, app: WebApp = APP
) -> Response:
    await actions.delete_preference(app, team_id, pref_id)
    return Response(status_code=204)
