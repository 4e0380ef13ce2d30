"""Taking an after-hours call and acting on its case: what the intake page, the responder
links and the leads' page share (seed 004).

`check_call` applies the same rules the workflow applies (`domain.after_hours`), so the agent
sees a refusal next to the field before anything starts; `open_case` starts
`AfterHoursEscalation` idempotently (a double submit of the same form opens one case).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.after_hours import (
    UPDATES,
    WORKFLOW_TYPE,
    AfterHoursDesk,
    CaseState,
    Intake,
    intake_problems,
    workflow_id,
)
from operations.errors import FieldError, from_rpc, from_update, from_validation
from store import after_hours as store


def read_desk(db: Session, now: datetime, timezone: str, itsm: str) -> AfterHoursDesk:
    """The after-hours reference data for this year and next (404 if none is loaded)."""
    try:
        return store.read_desk(db, range(now.year - 1, now.year + 2), timezone, itsm)
    except store.NoAfterHours as e:
        raise FieldError(404, str(e)) from None


def check_call(desk: AfterHoursDesk, data: dict[str, Any], now: datetime) -> Intake:
    """The call as an `Intake`, or a 422 naming every field at fault."""
    try:
        intake = Intake.model_validate(data)
    except ValidationError as e:
        raise from_validation(e) from None
    problems = intake_problems(desk, intake, now)
    if problems:
        errors = dict(problems)
        field, message = problems[0]
        raise FieldError(422, f"{field}: {message}", field, errors)
    return intake


async def open_case(client: Client, task_queue: str, intake: Intake) -> str:
    """Start the case's workflow; a repeat of the same case id is the same case."""
    try:
        await client.start_workflow(
            WORKFLOW_TYPE,
            intake.model_dump(mode="json"),
            id=workflow_id(intake.case_id),
            task_queue=task_queue,
        )
    except WorkflowAlreadyStartedError:
        pass
    except RPCError as e:
        raise from_rpc(e, intake.case_id) from None
    return intake.case_id


async def case_state(client: Client, case_id: str) -> CaseState:
    try:
        return await client.get_workflow_handle(workflow_id(case_id)).query(
            "state", result_type=CaseState
        )
    except RPCError as e:
        raise from_rpc(e, case_id) from None


async def act(client: Client, case_id: str, name: str, data: dict[str, Any]) -> CaseState:
    """Update `name` (acknowledge, technician_contacted, resolve) on the case."""
    if name not in UPDATES:
        raise FieldError(404, f"no action {name!r} on an after-hours case")
    try:
        UPDATES[name].model_validate(data)
    except ValidationError as e:
        raise from_validation(e) from None
    try:
        return await client.get_workflow_handle(workflow_id(case_id)).execute_update(
            name, data, result_type=CaseState
        )
    except WorkflowUpdateFailedError as e:
        raise from_update(e) from None
    except RPCError as e:
        raise from_rpc(e, case_id) from None
