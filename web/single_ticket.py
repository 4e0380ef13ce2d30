"""One refresh ticket from an existing system (seed 001 Timeline 3: "or from any existing
system"), created by a Refresh Administrator from its serial.

It is a batch of one: the serial goes through the batch path (`web.actions.start_batch`,
`operations.batches`, the `RefreshBatch` workflow), so the system is looked up in TDX by the
same activity, at TDX's rate, and the ticket gets the batch id rule (`{config}.{SERIAL}`):
the same system under the same config can never get a second ticket. What the batch reports
becomes a clear answer: the ticket started, or why not (unknown serial, no owner in TDX, a
ticket already running for the system).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from uuid import uuid4

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowFailureError

from domain.refresh import (
    BatchProgress,
    Delegate,
    Style,
    SystemLookup,
    batch_ticket_id,
    batch_workflow_id,
)
from operations.errors import FieldError, from_validation
from operations.system_lookup import look_up_system
from store.tables import Ticket
from web import actions, queries
from web.deps import WebApp
from web.security import Staff

SERIAL = re.compile(r"[A-Za-z0-9-]{3,64}")
STYLES: tuple[Style, ...] = ("on_prem", "remote", "unit_location", "no_customer")
# A look-up waits its turn at TDX's rate; past this the page links to the batch instead.
WAIT = timedelta(seconds=60)
PROJECTION_WAIT = timedelta(seconds=10)


@dataclass(frozen=True)
class Created:
    """The ticket's id and its batch of one; `started` is False while it is not visible yet
    (the batch's look-up still waiting its turn at TDX): the batch page then follows it."""

    ticket_id: str
    batch_id: str
    started: bool = True


def _running_ticket(db: Session, serial: str) -> Ticket | None:
    """A ticket of this system that has not ended, under any config."""
    return db.scalar(
        select(Ticket).where(
            Ticket.existing_serial.ilike(serial),
            Ticket.status.not_in(["complete", "cancelled"]),
        )
    )


def _one_line_csv(serial: str, style: str | None, delegate: Delegate | None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["serial", "style", "delegate_name", "delegate_email"])
    writer.writerow(
        [serial, style or "", delegate.name if delegate else "", delegate.email if delegate else ""]
    )
    return out.getvalue()


def check_request(
    serial: str, style: str | None, delegate_name: str, delegate_email: str
) -> tuple[str, str | None, Delegate | None]:
    """The form's fields, checked: 422 naming the field otherwise."""
    serial = serial.strip()
    if not SERIAL.fullmatch(serial):
        raise FieldError(422, "a serial is 3-64 letters, digits or '-'", "serial")
    if style and style not in STYLES:
        raise FieldError(422, f"style must be one of {', '.join(STYLES)}", "style")
    delegate = None
    if delegate_name.strip() or delegate_email.strip():
        try:
            delegate = Delegate(name=delegate_name, email=delegate_email)
        except ValidationError as e:
            raise from_validation(e, ("delegate",)) from None
    return serial, style or None, delegate


async def look_up(app: WebApp, serial: str) -> SystemLookup:
    """The system's owner, model, location and team as TDX has them now, before creating."""
    found = await look_up_system(await app.client(), app.settings.task_queue, serial)
    if found.user is None:
        raise FieldError(422, f"{serial}: no owner in TDX, so no one to refresh it for", "serial")
    return found


async def create(
    app: WebApp,
    staff: Staff,
    config_id: str,
    serial: str,
    style: str | None,
    delegate: Delegate | None,
) -> Created:
    """Start the ticket and wait for the batch's answer; refusals as FieldError."""
    if await app.read(queries.config_row, config_id) is None:
        raise FieldError(422, f"unknown refresh config '{config_id}'", "config_id")
    running = await app.read(_running_ticket, serial)
    if running is not None:
        raise FieldError(
            409,
            f"a refresh ticket is already running for {serial}: {running.ticket_id} "
            f"({running.status.replace('_', ' ')})",
            "serial",
        )
    batch_id = f"single-{serial.upper()}-{uuid4().hex[:8]}"
    text = _one_line_csv(serial, style, delegate)
    await actions.start_batch(app, staff, config_id, batch_id, text, f"single ticket {serial}")
    handle = (await app.client()).get_workflow_handle(
        batch_workflow_id(batch_id), result_type=BatchProgress
    )
    try:
        progress = await asyncio.wait_for(handle.result(), WAIT.total_seconds())
    except TimeoutError:
        return Created(batch_ticket_id(config_id, serial), batch_id, started=False)
    except WorkflowFailureError as e:
        raise FieldError(503, f"the look-up failed: {e.cause or e}", "serial") from None
    if progress.refused:
        raise FieldError(422, f"{serial}: {progress.refused[0].reason}", "serial")
    if progress.already_running:
        ticket_id = progress.already_running[0]
        raise FieldError(
            409,
            f"{serial} already has a refresh ticket under this config: {ticket_id} "
            "(one ticket per system and config, as in batches)",
            "serial",
        )
    ticket_id = progress.started[0] if progress.started else batch_ticket_id(config_id, serial)
    return Created(ticket_id, batch_id, started=await _projected(app, ticket_id))


async def _projected(app: WebApp, ticket_id: str) -> bool:
    """Wait (briefly) for the ticket's row (its starter writes it as the ticket starts)."""
    deadline = asyncio.get_running_loop().time() + PROJECTION_WAIT.total_seconds()
    while await app.read(queries.ticket_row, ticket_id) is None:
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True
