"""Looking one existing system up in TDX while a Refresh Administrator waits (LookupSystem)."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from temporalio.client import Client, WorkflowFailureError

from domain.refresh import SYSTEM_LOOKUP_WORKFLOW_TYPE, SystemLookup
from operations.errors import FieldError


async def look_up_system(client: Client, task_queue: str, serial: str) -> SystemLookup:
    """The system as TDX knows it; a FieldError on `serial` saying why not."""
    try:
        return await client.execute_workflow(
            SYSTEM_LOOKUP_WORKFLOW_TYPE,
            serial,
            id=f"system-lookup-{uuid4()}",
            task_queue=task_queue,
            result_type=SystemLookup,
            execution_timeout=timedelta(seconds=60),
        )
    except WorkflowFailureError as e:
        cause: BaseException = e
        while cause.__cause__ is not None:
            cause = cause.__cause__
        message = getattr(cause, "message", None) or str(cause)
        if "unknown serial" in message:
            raise FieldError(422, f"{serial}: {message}", "serial") from None
        raise FieldError(
            503, "TDX did not answer in time; try again in a minute", "serial"
        ) from None
