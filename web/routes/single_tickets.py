"""One refresh ticket from an existing system's serial (Refresh Administrators)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from domain.refresh import SystemLookup
from web import single_ticket
from web.deps import App, ConfigEditor
from web.responses import SingleTicketCreated

router = APIRouter(prefix="/api/single-tickets", tags=["tickets"])


class SingleTicketBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config_id: str = Field(min_length=1, max_length=64)
    serial: str = Field(max_length=64)
    style: str | None = Field(default=None, description="the config's default style if omitted")
    delegate_name: str = Field(default="", max_length=200)
    delegate_email: str = Field(default="", max_length=320)


@router.get("/lookup", summary="What TDX knows of a system: owner, model, location, team")
async def look_up_system(serial: str, _: ConfigEditor, app: App) -> SystemLookup:
    serial, _style, _delegate = single_ticket.check_request(serial, None, "", "")
    return await single_ticket.look_up(app, serial)


@router.post(
    "",
    status_code=201,
    summary="Create one ticket from a serial: looked up in TDX, never twice for a system",
)
async def create_single_ticket(
    body: SingleTicketBody, staff: ConfigEditor, app: App, response: Response
) -> SingleTicketCreated:
    serial, style, delegate = single_ticket.check_request(
        body.serial, body.style, body.delegate_name, body.delegate_email
    )
    made = await single_ticket.create(app, staff, body.config_id, serial, style, delegate)
    if not made.started:
        response.status_code = 202
    return SingleTicketCreated(
        ticket_id=made.ticket_id,
        batch_id=made.batch_id,
        started=made.started,
        ticket=f"/api/tickets/{made.ticket_id}",
        batch=f"/api/batches/{made.batch_id}",
    )
