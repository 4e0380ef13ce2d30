"""How the service-desk workflows (`ServiceDeskTicket`, `SlaClock`) call their activities.

One place for the timeout and retry policy they share, and for what a write to the ITSM does
when the ITSM refuses it for good: a 404 (the ticket was deleted in the ITSM) or another
permanent 4xx arrives as a non-retryable `ActivityError` (`activities.itsm_http`). Retrying
it would loop forever and failing the workflow would stop a clock that still has people to
tell, so the refusal is logged as a warning, handed to the workflow to record in its state,
and the workflow goes on without that write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

SHORT = timedelta(seconds=30)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))


def activity(name: str, arg: Any, result_type: Any):
    """An activity with the desk's timeout and retries (until it succeeds or is refused)."""
    return workflow.execute_activity(
        name, arg, result_type=result_type, start_to_close_timeout=SHORT, retry_policy=RETRY
    )


def refusal(err: ActivityError) -> ApplicationError | None:
    """The ITSM's permanent refusal inside `err`, or None if `err` is anything else."""
    cause = err.cause
    permanent = isinstance(cause, ApplicationError) and cause.non_retryable
    if permanent and cause.type in ("ItsmNotFound", "ItsmError"):
        return cause
    return None


async def itsm_write(
    name: str, arg: Any, result_type: Any, record: Callable[[str], None], what: str
) -> Any | None:
    """Write to the ITSM; a permanent refusal is recorded (`record(reason)`) and gives None."""
    try:
        return await activity(name, arg, result_type)
    except ActivityError as err:
        refused = refusal(err)
        if refused is None:
            raise
        gone = refused.type == "ItsmNotFound"
        reason = f"{what}: {'the ticket is gone from the ITSM' if gone else 'refused'} " + (
            f"({refused.message})"
        )
        workflow.logger.warning("ITSM write not made, %s", reason)
        record(reason[:500])
        return None
