"""Acting on outages and partner triage: what the staff console, the API and the CLI share.

`report_potential` and `link_incident` are update-with-start on `outage-{id}` (the workflow
is started if it is not running, and the update lands in the same request), so two agents
acting on an outage that does not exist yet still make one. The other updates go to the
running outage. Every refusal becomes a `FieldError` naming the field, with the workflow
validator's own sentence (for a level-1 agent: the rule that forbids the action).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain import outages, partner_triage
from domain.itsm import ItsmName
from domain.outages import OutageInput, OutageState
from operations.errors import FieldError, from_validation

WITH_START = ("report_potential", "link_incident")
BUSY = (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE)
BUSY_RETRIES = 40


def _refusal(exc: WorkflowUpdateFailedError) -> FieldError:
    cause = exc.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    message = cause.message if isinstance(cause, ApplicationError) else str(exc)
    field, sep, text = message.partition(": ")
    if not sep or " " in field:
        return FieldError(409, message)
    return FieldError(403 if field == "role" else 409, text, field)


def _rpc(exc: RPCError, what: str) -> FieldError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return FieldError(404, f"no {what}")
    return FieldError(503, f"Temporal did not answer: {exc.message}")


def _checked(name: str, data: dict[str, Any], registry: dict[str, type[BaseModel]]) -> BaseModel:
    if name not in registry:
        raise FieldError(404, f"no update {name!r}; use one of {', '.join(registry)}", "name")
    if not isinstance(data, dict):
        raise FieldError(422, "expected a JSON object", "body")
    try:
        return registry[name].model_validate(data)
    except ValidationError as e:
        raise from_validation(e) from None


async def outage_update(
    client: Client,
    task_queue: str,
    itsm: ItsmName,
    outage_id: str,
    name: str,
    data: dict[str, Any],
) -> Any:
    """Send update `name` to the outage (update-with-start for report and link)."""
    try:
        OutageInput(outage_id=outage_id, itsm=itsm)
    except ValidationError as e:
        raise FieldError(
            422, "an outage id is letters, digits, '.', '_' or '-'", "outage_id"
        ) from e
    msg = _checked(name, data, outages.UPDATES)
    result_type = OutageState if name in ("report_potential", "confirm", "dismiss") else dict
    for attempt in range(BUSY_RETRIES):
        try:
            return await _send(client, task_queue, itsm, outage_id, name, msg, result_type)
        except WorkflowUpdateFailedError as e:
            raise _refusal(e) from None
        except WorkflowAlreadyStartedError:
            raise FieldError(
                409, f"outage {outage_id} is over; report a new one", "status"
            ) from None
        except RPCError as e:
            if e.status == RPCStatusCode.ALREADY_EXISTS:
                raise FieldError(
                    409, f"outage {outage_id} is over; report a new one", "status"
                ) from None
            if e.status in BUSY and attempt < BUSY_RETRIES - 1:
                # Too many updates in flight on this outage at once (the server's limit is
                # 10 per workflow), or the run was continuing as new: the update did not
                # land, and every update is idempotent, so it is sent again.
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
                continue
            raise _rpc(e, f"outage {outage_id}") from None
    raise AssertionError("unreachable")


async def _send(
    client: Client,
    task_queue: str,
    itsm: ItsmName,
    outage_id: str,
    name: str,
    msg: BaseModel,
    result_type: type,
) -> Any:
    wf_id = outages.workflow_id(outage_id)
    if name in WITH_START:
        start = WithStartWorkflowOperation(
            outages.WORKFLOW_TYPE,
            OutageInput(outage_id=outage_id, itsm=itsm),
            id=wf_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # An outage id is used once: a link to a closed outage is refused, not a new one.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        return await client.execute_update_with_start_workflow(
            name, msg, start_workflow_operation=start, result_type=result_type
        )
    return await client.get_workflow_handle(wf_id).execute_update(
        name, msg, result_type=result_type
    )


async def outage_state(client: Client, outage_id: str) -> OutageState:
    try:
        return await client.get_workflow_handle(outages.workflow_id(outage_id)).query(
            "state", result_type=OutageState
        )
    except RPCError as e:
        raise _rpc(e, f"outage {outage_id}") from None


async def reassign(
    client: Client, itsm: ItsmName, ticket_id: str, data: dict[str, Any]
) -> dict[str, Any]:
    """`reassign` on the ticket's PartnerTriage (a boomerang is refused with its rule)."""
    try:
        msg = partner_triage.Reassign.model_validate(data)
    except ValidationError as e:
        raise from_validation(e) from None
    handle = client.get_workflow_handle(partner_triage.workflow_id(itsm, ticket_id))
    try:
        return await handle.execute_update("reassign", msg, result_type=dict)
    except WorkflowUpdateFailedError as e:
        raise _refusal(e) from None
    except RPCError as e:
        raise _rpc(e, f"triage of {itsm} ticket {ticket_id}") from None


async def triage_state(client: Client, itsm: ItsmName, ticket_id: str) -> dict[str, Any]:
    handle = client.get_workflow_handle(partner_triage.workflow_id(itsm, ticket_id))
    try:
        return await handle.query("state", result_type=dict)
    except RPCError as e:
        raise _rpc(e, f"triage of {itsm} ticket {ticket_id}") from None
