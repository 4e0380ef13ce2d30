"""Talking to a ticket's workflow: its `state`, updates, signals, pending activities.

Every refusal becomes a `FieldError` (see operations.errors), so pages and the API report the
workflow validator's own sentence, next to the field it names.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import ResetActivityRequest
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHistoryEventFilterType,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError

from domain.refresh import (
    SIGNALS,
    UPDATES,
    BatchProgress,
    TicketState,
    UpdateAck,
    batch_workflow_id,
    workflow_id,
)
from domain.refresh_rules import signal_refusal
from operations.errors import FieldError, from_rpc, from_update, from_validation, not_found

STUCK_ATTEMPTS = 3  # an activity on its third attempt or later is worth a look

logger = logging.getLogger(__name__)


def message(name: str, data: dict[str, Any], registry: dict[str, type[BaseModel]]) -> dict:
    """Check `data` against the contract's model for `name` (422 naming the field if not).

    What is sent is the checked data with only the fields given (not the model with every
    default filled in): `edit` changes exactly the fields present in its message.
    """
    try:
        msg = registry[name].model_validate(data)
    except ValidationError as e:
        raise from_validation(e) from None
    return msg.model_dump(mode="json", exclude_unset=True)


async def state(client: Client, ticket_id: str) -> TicketState:
    try:
        return await client.get_workflow_handle(workflow_id(ticket_id)).query(
            "state", result_type=TicketState
        )
    except RPCError as e:
        raise from_rpc(e, ticket_id) from None


async def update(client: Client, ticket_id: str, name: str, data: dict[str, Any]) -> Any:
    """Send update `name` (validated against the contract first); returns its result:
    the TDX ticket id for `request_change`, else an `UpdateAck` (the `state` query tells
    the rest)."""
    msg = message(name, data, UPDATES)
    result_type = int if name == "request_change" else UpdateAck
    try:
        return await client.get_workflow_handle(workflow_id(ticket_id)).execute_update(
            name, msg, result_type=result_type
        )
    except WorkflowUpdateFailedError as e:
        raise from_update(e) from None
    except RPCError as e:
        raise from_rpc(e, ticket_id) from None


async def signal(client: Client, ticket_id: str, name: str, data: dict[str, Any]) -> None:
    """Send signal `name`, unless the ticket would ignore it: a signal cannot answer, so the
    workflow's own rule (domain.refresh_rules.signal_refusal) is asked here first and its
    reason is the 409's sentence. (A change between this look and the delivery is still
    caught by the workflow, which then records the ignored signal in the audits.)"""
    msg = message(name, data, SIGNALS)
    refusal = signal_refusal(await state(client, ticket_id), name)
    if refusal:
        raise FieldError(409, f"{name} refused: {refusal}")
    try:
        await client.get_workflow_handle(workflow_id(ticket_id)).signal(name, msg)
    except RPCError as e:
        raise from_rpc(e, ticket_id) from None


# The ticket's waits on TDX: retried hourly (the new computer's asset) and daily (delivery).
TDX_CHECKS = ("tdx_find_asset", "tdx_delivery_progress")


async def check_tdx_now(client: Client, ticket_id: str, who: str) -> list[str]:
    """Look at TDX again now instead of at the check's next retry (tomorrow, for delivery):
    a technician who just marked the system installed or closed the TDX ticket sees deskflow
    follow at once. Resets the waiting check's retry (Temporal's ResetActivity); no message
    to the workflow, so nothing in its history changes but the attempt. Returns the checks."""
    due = [p.activity for p in await pending_activities(client, ticket_id, strict=True)]
    due = [name for name in due if name in TDX_CHECKS]
    if not due:
        raise FieldError(409, "this ticket is not waiting on TDX right now")
    for name in due:
        try:
            await client.workflow_service.reset_activity(
                ResetActivityRequest(
                    namespace=client.namespace,
                    execution=WorkflowExecution(workflow_id=workflow_id(ticket_id)),
                    type=name,
                    identity=who,
                )
            )
        except RPCError as e:
            raise from_rpc(e, ticket_id) from None
    # ResetActivity leaves no trace in the ticket's history: the staff action is logged here.
    logger.info("check TDX now on %s by %s: %s", ticket_id, who, ", ".join(due))
    return due


@dataclass(frozen=True)
class PendingActivity:
    ticket_id: str
    activity: str
    attempt: int
    state: str
    last_failure: str
    scheduled: datetime | None

    @property
    def stuck(self) -> bool:
        return self.attempt >= STUCK_ATTEMPTS


async def failure_message(client: Client, failure: Failure) -> str:
    """A failure's message as written, decrypted (failures reach Temporal encrypted)."""
    try:
        err = await client.data_converter.decode_failure(failure)
    except Exception:  # a key this process does not hold: show what Temporal has
        return failure.message
    return str(getattr(err, "message", None) or err)


async def pending_activities(
    client: Client, ticket_id: str, strict: bool = False
) -> list[PendingActivity]:
    """The ticket's pending activities; none for an unknown ticket, or a 404 when `strict`."""
    try:
        desc = await client.get_workflow_handle(workflow_id(ticket_id)).describe()
    except RPCError as e:
        if strict:
            raise from_rpc(e, ticket_id) from None
        return []
    return await _pending(client, ticket_id, desc)


async def _pending(
    client: Client, ticket_id: str, desc: WorkflowExecutionDescription
) -> list[PendingActivity]:
    out = []
    for p in desc.raw_description.pending_activities:
        out.append(
            PendingActivity(
                ticket_id=ticket_id,
                activity=p.activity_type.name,
                attempt=p.attempt,
                state=PendingActivityState.Name(p.state)
                .removeprefix("PENDING_ACTIVITY_STATE_")
                .lower(),
                last_failure=(
                    await failure_message(client, p.last_failure)
                    if p.HasField("last_failure")
                    else ""
                ),
                scheduled=(
                    p.scheduled_time.ToDatetime(tzinfo=UTC)
                    if p.HasField("scheduled_time")
                    else None
                ),
            )
        )
    return out


# How a run that deskflow did not end itself ended, in words. A run that completed or continued
# as new is deskflow's own doing (its row is written before it ends).
ENDED_OUTSIDE = {
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "timed out",
    WorkflowExecutionStatus.CANCELED: "cancelled in Temporal",
}


@dataclass(frozen=True)
class EndedRun:
    """An open ticket whose workflow no longer runs: ended in Temporal, not by deskflow
    (an operator terminated it in the Web UI or the CLI), so its row keeps its last status."""

    ticket_id: str
    how: str
    closed: datetime | None
    reason: str


async def _ended(
    client: Client, ticket_id: str, desc: WorkflowExecutionDescription, how: str
) -> EndedRun:
    """The run's end, with the reason its closing event gives (a terminate's reason)."""
    reason = ""
    handle = client.get_workflow_handle(workflow_id(ticket_id), run_id=desc.run_id)
    close = WorkflowHistoryEventFilterType.CLOSE_EVENT
    async for event in handle.fetch_history_events(event_filter_type=close):
        if event.HasField("workflow_execution_terminated_event_attributes"):
            reason = event.workflow_execution_terminated_event_attributes.reason
        elif event.HasField("workflow_execution_failed_event_attributes"):
            failure = event.workflow_execution_failed_event_attributes.failure
            reason = await failure_message(client, failure)
    return EndedRun(ticket_id, how, desc.close_time, reason)


@dataclass(frozen=True)
class OpenTicketChecks:
    stuck: list[PendingActivity]
    ended: list[EndedRun]


async def check_open_tickets(
    client: Client, ticket_ids: list[str], concurrency: int = 20
) -> OpenTicketChecks:
    """One describe() per open ticket: its activities retrying for long
    (attempt >= STUCK_ATTEMPTS), or its run ended outside deskflow."""
    gate = asyncio.Semaphore(concurrency)

    async def one(tid: str) -> tuple[list[PendingActivity], EndedRun | None]:
        async with gate:
            try:
                desc = await client.get_workflow_handle(workflow_id(tid)).describe()
            except RPCError:
                return [], None
            how = ENDED_OUTSIDE.get(desc.status) if desc.status else None
            if how:
                return [], await _ended(client, tid, desc, how)
            return [p for p in await _pending(client, tid, desc) if p.stuck], None

    found = await asyncio.gather(*(one(t) for t in ticket_ids))
    return OpenTicketChecks(
        stuck=[p for stuck, _ in found for p in stuck],
        ended=[ended for _, ended in found if ended],
    )


async def batch_progress(client: Client, batch_id: str) -> BatchProgress:
    try:
        return await client.get_workflow_handle(batch_workflow_id(batch_id)).query(
            "progress", result_type=BatchProgress
        )
    except RPCError as e:
        if "not found" in str(e).lower():
            raise not_found(f"no batch workflow {batch_workflow_id(batch_id)}") from None
        raise FieldError(503, f"Temporal did not answer: {e.message}") from None
