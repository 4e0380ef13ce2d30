"""How the service-desk workflows (`ServiceDeskTicket`, `SlaClock`) call their activities and
read their `ticket_event` signals.

A signal is read from its raw payload (`workflows.messages.read_message`, as RefreshTicket
reads its messages), so null, no argument, two arguments, a wrong shape or an undecryptable
payload is dropped with a warning naming why, and never fails a workflow task.

One place for the timeout and retry policy they share, and for what a write to the ITSM does
when the ITSM refuses it for good: a 404 (the ticket was deleted in the ITSM) or another
permanent 4xx arrives as a non-retryable `ActivityError` (`activities.itsm_http`). Retrying
it would loop forever and failing the workflow would stop a clock that still has people to
tell, so the refusal is logged as a warning, handed to the workflow to record in its state,
and the workflow goes on without that write.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.desk_dispatch import SIGNAL
    from domain.itsm import ItsmEvent
    from domain.messages import clip
    from workflows.messages import MessageRefused, read_message

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
    return await tolerate_refusal(activity(name, arg, result_type), record, what)


async def tolerate_refusal(
    call: Awaitable[Any], record: Callable[[str], None], what: str
) -> Any | None:
    """Await an ITSM write started with the caller's own timeouts; a permanent refusal is
    logged, recorded (`record(reason)`) and gives None, so the workflow goes on without it."""
    try:
        return await call
    except ActivityError as err:
        refused = refusal(err)
        if refused is None:
            raise
        why = "the ticket is gone from the ITSM" if refused.type == "ItsmNotFound" else "refused"
        reason = f"{what}: {why} ({refused.message})"
        workflow.logger.warning("ITSM write not made, %s", reason)
        record(reason[:500])
        return None


def read_ticket_event(name: str, args: Sequence[RawValue]) -> ItsmEvent | None:
    """The event a `ticket_event` signal carries, or None (logged) for anything else."""
    if name != SIGNAL:
        workflow.logger.warning("signal %s dropped: this workflow takes %s", clip(name, 60), SIGNAL)
        return None
    try:
        return read_message(args, ItsmEvent)
    except MessageRefused as refused:
        workflow.logger.warning("%s dropped: %s", SIGNAL, refused)
        return None
