"""Every activity the refresh ticket calls: its name, task queue, timeout and retry policy.

Each function starts one activity and returns the awaitable; the policy that governs a
call sits beside it. The TDX calls go to the worker's two TDX task queues, which the server
paces at TDX's per-method limits (see worker.py). Nothing here decides anything: the
workflow says what to do and when, these say how to reach the system that does it.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.activity_requests import (
        AssetFound,
        AssetLookup,
        BookSlotRequest,
        DeliveryCheck,
        EmailRequest,
        EmailResult,
        LoadTicketContext,
        ProjectTicket,
        RecordEvent,
        ReleaseSlotRequest,
        SlackRequest,
        TdxCompleteTask,
        TdxFeed,
        TdxScheduleDay1,
        TdxTaskRequest,
        TdxTicketCreated,
        TdxTicketRequest,
    )
    from domain.refresh import BookedSlot, TicketContext
    from domain.tdx_queues import TdxQueue, tdx_queue

SHORT = timedelta(seconds=30)


# ----- our database (main queue) -------------------------------------------------------------


def load_ticket_context(req: LoadTicketContext) -> Awaitable[TicketContext]:
    """Config, team and business calendar, read once per run."""
    return workflow.execute_activity(
        "load_ticket_context", req, result_type=TicketContext, start_to_close_timeout=SHORT
    )


def project_ticket(req: ProjectTicket) -> Awaitable[None]:
    """The ticket's row for the web app's lists (local: it is quick and changes often)."""
    return workflow.execute_local_activity("project_ticket", req, start_to_close_timeout=SHORT)


def record_event(req: RecordEvent, *, local: bool) -> Awaitable[None]:
    """An event for the reports. A local activity holds its workflow task open, and with it
    the reply of an update answered in that task: so `local` only where no reply waits (a
    signal's task), or in runs recorded before `SYNC_AFTER_REPLY`."""
    if local:
        return workflow.execute_local_activity("record_event", req, start_to_close_timeout=SHORT)
    return workflow.execute_activity("record_event", req, start_to_close_timeout=SHORT)


def book_slot(req: BookSlotRequest) -> Awaitable[BookedSlot]:
    """A full slot is an answer, not a fault: no retry, the update says "slot 4 is full"."""
    return workflow.execute_activity(
        "book_slot",
        req,
        result_type=BookedSlot,
        start_to_close_timeout=SHORT,
        retry_policy=RetryPolicy(non_retryable_error_types=["SlotUnavailable"]),
    )


def release_slot(req: ReleaseSlotRequest) -> Awaitable[None]:
    return workflow.execute_activity("release_slot", req, start_to_close_timeout=SHORT)


# ----- email and Slack (main queue) ----------------------------------------------------------

EMAIL_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))


def send_email(req: EmailRequest) -> Awaitable[EmailResult]:
    return workflow.execute_activity(
        "send_email",
        req,
        result_type=EmailResult,
        start_to_close_timeout=SHORT,
        retry_policy=EMAIL_RETRY,
    )


def post_slack(req: SlackRequest) -> Awaitable[None]:
    return workflow.execute_activity(
        "post_slack",
        req,
        start_to_close_timeout=SHORT,
        retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
    )


# ----- TDX (a paced queue per rate-limited TDX method, see domain.tdx_queues) ------------------

# Backing off protects nothing here: every TDX call waits for its paced queue and for room in
# TDX's rate window, and a 429 names its own delay. But every attempt doubles the interval,
# the planned ones too (a create waiting for its first request to land), so a ticket whose
# calls met a few faults in a row would wait minutes for its next try; 30 s at most.
TDX_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
# Until TDX knows the replacement's serial: quick at first, then hourly, forever.
ITSM_RETRY = RetryPolicy(
    initial_interval=timedelta(minutes=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
)
# The daily TDX check is one activity retried once a day: retries cost no history events.
DAILY_RETRY = RetryPolicy(
    initial_interval=timedelta(days=1), backoff_coefficient=1.0, maximum_interval=timedelta(days=1)
)


def _tdx_queue(kind: TdxQueue = "calls") -> str:
    return tdx_queue(workflow.info().task_queue, kind)


def tdx_create_ticket(req: TdxTicketRequest) -> Awaitable[TdxTicketCreated]:
    """Ticket creation, on its own queue paced at TDX's lower creation limit."""
    return workflow.execute_activity(
        "tdx_create_ticket",
        req,
        result_type=TdxTicketCreated,
        task_queue=_tdx_queue("ticket_create"),
        start_to_close_timeout=SHORT,
        retry_policy=TDX_RETRY,
    )


def tdx_create_task(req: TdxTaskRequest) -> Awaitable[int]:
    return workflow.execute_activity(
        "tdx_create_task",
        req,
        result_type=int,
        task_queue=_tdx_queue("task_create"),
        start_to_close_timeout=SHORT,
        retry_policy=TDX_RETRY,
    )


def _tdx(name: str, req: object) -> Awaitable[None]:
    return workflow.execute_activity(
        name, req, task_queue=_tdx_queue(), start_to_close_timeout=SHORT, retry_policy=TDX_RETRY
    )


def tdx_complete_task(req: TdxCompleteTask) -> Awaitable[None]:
    return _tdx("tdx_complete_task", req)


def tdx_schedule_day1(req: TdxScheduleDay1) -> Awaitable[None]:
    return _tdx("tdx_schedule_day1", req)


def tdx_add_feed(req: TdxFeed) -> Awaitable[None]:
    return _tdx("tdx_add_feed", req)


def tdx_find_asset(req: AssetLookup) -> Awaitable[AssetFound]:
    return workflow.execute_activity(
        "tdx_find_asset",
        req,
        result_type=AssetFound,
        task_queue=_tdx_queue("asset_search"),
        start_to_close_timeout=SHORT,
        retry_policy=ITSM_RETRY,
    )


def tdx_delivery_progress(req: DeliveryCheck) -> Awaitable[str]:
    """ "installed", "closed", or failing (retried daily) while neither."""
    return workflow.execute_activity(
        "tdx_delivery_progress",
        req,
        result_type=str,
        task_queue=_tdx_queue(),
        start_to_close_timeout=SHORT,
        retry_policy=DAILY_RETRY,
    )
