"""Tickets: the list, the Problems focus, one ticket, and what staff do to a ticket.

The staff actions (hold, release, cancel, ...) are made from `web.actions.STAFF_ACTIONS`, the
same table the ticket page's forms come from: one row per action, never a hand-written twin.
"""

# No `from __future__ import annotations`: the generated routes' annotations must be the
# classes themselves, which FastAPI reads to build their bodies and docs.

from typing import Annotated, Any

from fastapi import APIRouter, Query

from domain.refresh import Status, TicketState
from web import actions, queries, schemas
from web.actions import STAFF_ACTIONS, StaffAction
from web.deps import STAFF_WITH, App, TicketEditor, TicketManager, TicketViewer
from web.responses import (
    Accepted,
    AuditOut,
    EmailOut,
    EventOut,
    PendingActivityOut,
    Problems,
    TicketDetail,
    TicketLinks,
    TicketList,
    TicketRow,
    ticket_rows,
)

router = APIRouter(prefix="/api", tags=["tickets"])
Style = Annotated[str | None, Query(pattern="^(on_prem|remote|unit_location|no_customer)$")]


@router.get("/tickets", summary="Find tickets: by status, team, style, batch, config or text")
async def list_tickets(
    _: TicketViewer,
    app: App,
    status: Status | None = None,
    team: str | None = None,
    style: Style = None,
    batch: str | None = None,
    config: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TicketList:
    flt = queries.TicketFilter(status and status.value, team, style, batch, config, q)
    rows, total = await app.read(queries.list_tickets, flt, limit=limit, offset=offset)
    return TicketList(total=total, tickets=ticket_rows(rows))


@router.get(
    "/problems",
    summary="What needs a person: waiting tickets, failed emails, work that keeps failing",
)
async def problems(_: TicketViewer, app: App) -> Problems:
    return Problems.of(await actions.problems_data(app))


@router.get(
    "/tickets/{ticket_id}",
    summary="One ticket: its state, history, emails and pending work",
)
async def ticket(ticket_id: str, _: TicketViewer, app: App) -> TicketDetail:
    d = await actions.staff_ticket(app, ticket_id)
    state: TicketState = d["state"]
    return TicketDetail(
        ticket=TicketRow.of(d["row"]),
        state=state,
        pending_activities=[PendingActivityOut.of(p) for p in d["pending"]],
        audits=[AuditOut.of(a) for a in d["audits"]],
        events=[EventOut.of(e) for e in d["events"]],
        emails=[EmailOut.of(e) for e in d["emails"]],
        links=TicketLinks(tdx=state.tdx.url, temporal_ui=app.temporal_ui_link(ticket_id)),
    )


@router.post(
    "/tickets/{ticket_id}/edit",
    summary="Change a ticket's details before it is ordered (approver or Refresh Administrator)",
)
async def edit(
    ticket_id: str, body: schemas.EditBody, staff: TicketEditor, app: App
) -> TicketState:
    data = body.model_dump(mode="json", exclude_unset=True)
    await actions.edit_ticket(app, staff, ticket_id, data)
    return await actions.ticket_state(app, ticket_id)


def _add_staff_action(name: str, action: StaffAction) -> None:
    """POST /tickets/{ticket_id}/{name}: an update answers the new state (200), a signal is
    accepted (202) and the workflow acts on its next step."""
    allowed = STAFF_WITH[action.perm]

    async def send(ticket_id: str, body: action.body, staff: allowed, app: App) -> Any:  # type: ignore[valid-type]
        await actions.staff_action(app, staff, ticket_id, name, body.model_dump(mode="json"))
        return await actions.ticket_state(app, ticket_id) if action.is_update else Accepted()

    send.__name__ = name
    router.add_api_route(
        f"/tickets/{{ticket_id}}/{name}",
        send,
        methods=["POST"],
        status_code=200 if action.is_update else 202,
        response_model=TicketState if action.is_update else Accepted,
        summary=action.summary,
    )


for _name, _action in STAFF_ACTIONS.items():
    _add_staff_action(_name, _action)


@router.post(
    "/tickets/{ticket_id}/check_tdx_now",
    status_code=202,
    summary="Look at TDX again now: the new computer's asset, or installed/closed "
    "(instead of at the check's next retry; Refresh Manager)",
)
async def check_tdx_now(ticket_id: str, staff: TicketManager, app: App) -> Accepted:
    await actions.check_tdx_now(app, staff, ticket_id)
    return Accepted()
