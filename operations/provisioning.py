"""Acting on provisioning intakes from the web and the CLI: updates with the workflow's own
refusals turned into field errors, the audited password reveal, and the gauge.

The Exhibit A draft is checked here first with the same rule the workflow applies
(`domain.provisioning.validate_exhibit`, on the desk calendar read from the database), so a
page shows every field's problem at once; the workflow checks again when it gets it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.provisioning import (
    Actor,
    ExhibitDraft,
    ExhibitInvalid,
    IntakeState,
    Role,
    validate_exhibit,
    workflow_id,
)
from domain.provisioning_gauge import Gauge
from operations.errors import FieldError
from store import provisioning as prov_store
from store.secret_box import SecretBox, SecretUnreadable

UPDATES = (
    "equipment_received",
    "set_subcategory",
    "assign",
    "submit_details",
    "log_time",
    "reclassify_as_repair",
    "request_close",
)


def actor(username: str, name: str, email: str, roles: frozenset[str]) -> Actor:
    """The signed-in staff member as the workflow's `by` (only the provisioning roles)."""
    mine = [Role(r) for r in sorted(roles) if r in Role.__members__]
    return Actor(username=username, name=name, email=email, roles=mine)


def check_exhibit(db: Session, draft: dict[str, Any], now: datetime | None = None) -> None:
    """FieldError (422) with every field's problem, or nothing if the draft is valid."""
    now = now or datetime.now(UTC)
    calendar = prov_store.read_calendar(db, range(now.year - 1, now.year + 3))
    try:
        validate_exhibit(ExhibitDraft.model_validate(draft), calendar, now)
    except ExhibitInvalid as e:
        errors = dict(e.problems)
        first, message = e.problems[0]
        summary = message if len(errors) == 1 else f"{len(errors)} fields need attention"
        raise FieldError(422, summary, first, errors) from None


def _refusal(exc: WorkflowUpdateFailedError) -> FieldError:
    cause = exc.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    if not isinstance(cause, ApplicationError):
        return FieldError(409, "the ticket refused this")
    details = cause.details[0] if cause.details else None
    field = details.get("field") if isinstance(details, dict) else None
    status = 403 if field == "by.roles" else 422 if field else 409
    return FieldError(status, cause.message, field)


async def state(client: Client, halo_ticket_id: str) -> IntakeState | None:
    try:
        handle = client.get_workflow_handle(workflow_id(halo_ticket_id))
        return await handle.query("state", result_type=IntakeState)
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise FieldError(404, f"no provisioning ticket {halo_ticket_id}") from None
        raise FieldError(503, f"Temporal did not answer: {e.message}") from None


async def update(
    client: Client, halo_ticket_id: str, name: str, by: Actor, data: dict[str, Any]
) -> IntakeState:
    if name not in UPDATES:
        raise FieldError(404, f"unknown action {name!r}: one of {', '.join(UPDATES)}")
    body = {**data, "by": by.model_dump(mode="json")}
    try:
        handle = client.get_workflow_handle(workflow_id(halo_ticket_id))
        return await handle.execute_update(name, body, result_type=IntakeState)
    except WorkflowUpdateFailedError as e:
        raise _refusal(e) from None
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise FieldError(404, f"no provisioning ticket {halo_ticket_id}") from None
        raise FieldError(503, f"Temporal did not answer: {e.message}") from None


def reveal(db: Session, box: SecretBox, halo_ticket_id: str, field: str, username: str) -> str:
    """A password, audited; 404 once erased (the ticket closed) or never recorded."""
    try:
        value = prov_store.reveal(db, box, halo_ticket_id, field, username)
    except ValueError as e:
        if isinstance(e, SecretUnreadable):
            raise FieldError(409, str(e), "field") from None
        raise FieldError(422, str(e), "field") from None
    if value is None:
        raise FieldError(404, "no password is stored for this ticket (erased at close)", "field")
    return value


def gauge(db: Session, month: str | None, tz: str) -> Gauge:
    """The gauge of `month` (YYYY-MM; this month if None)."""
    if month is None:
        today = date.today()
        month = f"{today.year:04d}-{today.month:02d}"
    try:
        year, mon = (int(p) for p in month.split("-"))
        if not (2000 <= year <= 2100 and 1 <= mon <= 12) or len(month) != 7:
            raise ValueError
    except ValueError:
        raise FieldError(422, "month must be YYYY-MM", "month") from None
    spec = prov_store.read_spec(db)
    return prov_store.gauge(db, month, tz, spec.work_type)
