"""RefreshBatch: look a batch's serials up in TDX and start one RefreshTicket per system.

The file's lines come from the database in pages (the launch stored them), so a batch of
any size fits Temporal's message limits. It paces itself by TDX's rate (the look-ups run on
the rate-limited TDX asset-search queue), survives the CLI or browser that started it going
away, and answers `progress` at any time.
Starting is idempotent (ticket ids come from config + serial), so a second run of the
same file reports every system as already running instead of starting it twice.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr loads it lazily)

    from domain.refresh import (
        BATCH_WORKFLOW_TYPE,
        BatchPage,
        BatchPageRequest,
        BatchProgress,
        BatchRow,
        RefreshBatchInput,
        RefreshTicketInput,
        RefusedRow,
        StartResult,
        StartTicket,
        SystemLookup,
        batch_ticket_id,
    )
    from domain.tdx_queues import tdx_queue

# Rows looked up at once: enough that TDX's limits, not this loop, set the batch's pace.
IN_FLIGHT = 60
ROWS_PER_RUN = 400  # continue-as-new after this many rows keeps each history small
PAGE = 200  # stored lines read per activity: a few tens of kB at most


@workflow.defn(name=BATCH_WORKFLOW_TYPE)
class RefreshBatch:
    def __init__(self) -> None:
        self.p: BatchProgress | None = None

    @workflow.run
    async def run(self, inp: RefreshBatchInput) -> BatchProgress:
        if inp.lines is None:
            return await self._run_inline(inp)
        return await self._run_paged(inp)

    async def _run_paged(self, inp: RefreshBatchInput) -> BatchProgress:
        """Read the stored lines a page at a time; at most ROWS_PER_RUN lines per run."""
        p = self.p = inp.progress or BatchProgress(batch_id=inp.batch_id, total=inp.lines or 0)
        taken, exhausted = 0, False
        pending: set[asyncio.Task] = set()
        while taken < ROWS_PER_RUN:
            limit = min(PAGE, ROWS_PER_RUN - taken)
            page = await workflow.execute_activity(
                "read_batch_lines",
                BatchPageRequest(batch_id=inp.batch_id, after_line=p.next_line, limit=limit),
                result_type=BatchPage,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
            p.refused.extend(page.refused)
            p.processed += len(page.refused)
            for row in page.rows:
                if len(pending) >= IN_FLIGHT:
                    _, still = await workflow.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    pending = set(still)
                pending.add(asyncio.ensure_future(self._row(inp, row)))
            taken += len(page.rows) + len(page.refused)
            p.next_line = page.last_line
            if len(page.rows) + len(page.refused) < limit:
                exhausted = True
                break
        if pending:
            await workflow.wait(pending)
        if not exhausted:
            workflow.continue_as_new(inp.model_copy(update={"progress": p}))
        p.done = True
        return p

    async def _run_inline(self, inp: RefreshBatchInput) -> BatchProgress:
        """Launches from before paging carried their rows in the input."""
        p = self.p = inp.progress or BatchProgress(
            batch_id=inp.batch_id,
            total=len(inp.rows) + len(inp.refused),
            processed=len(inp.refused),
            refused=list(inp.refused),
        )
        stop = min(len(inp.rows), p.next_row + ROWS_PER_RUN)
        pending: set[asyncio.Task] = set()
        for row in inp.rows[p.next_row : stop]:
            if len(pending) >= IN_FLIGHT:
                _, still = await workflow.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                pending = set(still)
            pending.add(asyncio.ensure_future(self._row(inp, row)))
        if pending:
            await workflow.wait(pending)
        p.next_row = stop
        if stop < len(inp.rows):
            workflow.continue_as_new(inp.model_copy(update={"progress": p}))
        p.done = True
        return p

    async def _row(self, inp: RefreshBatchInput, row: BatchRow) -> None:
        await self._one(inp, row)
        self.progress().processed += 1

    async def _one(self, inp: RefreshBatchInput, row: BatchRow) -> None:
        p = self.progress()
        try:
            found = await workflow.execute_activity(
                "tdx_lookup_system",
                row.serial,
                result_type=SystemLookup,
                task_queue=tdx_queue(workflow.info().task_queue, "asset_search"),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(
                    # At most 30 s apart, as every TDX call (workflows/refresh_activities.py):
                    # the paced queue and TDX's rate window hold the pace, not the backoff.
                    maximum_interval=timedelta(seconds=30),
                    non_retryable_error_types=["UnknownSerial"],
                ),
            )
        except ActivityError as e:
            p.looked_up += 1
            p.refused.append(RefusedRow(line=row.line, serial=row.serial, reason=_reason(e)))
            return
        p.looked_up += 1
        reason = None
        if found.user is None:
            reason = "no owner in TDX"
        elif not found.support_team:
            reason = "no support team in TDX"
        if reason is not None or found.user is None or found.support_team is None:
            p.refused.append(RefusedRow(line=row.line, serial=row.serial, reason=str(reason)))
            return
        ticket = RefreshTicketInput(
            ticket_id=batch_ticket_id(inp.config_id, found.serial),
            config_id=inp.config_id,
            style=row.style or inp.default_style,
            bump_down=row.replacement_system is not None,
            user=found.user,
            delegate=row.delegate,
            existing_system={
                "serial": found.serial,
                "platform": found.platform,
                "model": found.model,
                "location": found.location,
            },
            replacement_system=row.replacement_system,
            support_team=found.support_team,
            batch_id=inp.batch_id,
        )
        try:
            result = await workflow.execute_activity(
                "start_refresh_ticket",
                StartTicket(ticket=ticket, started_by=inp.launch_id),
                result_type=StartResult,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(
                    maximum_interval=timedelta(minutes=1),
                    non_retryable_error_types=["UnknownReference"],
                ),
            )
        except ActivityError as e:
            p.refused.append(RefusedRow(line=row.line, serial=row.serial, reason=_reason(e)))
            return
        (p.started if result.started else p.already_running).append(result.ticket_id)

    @workflow.query
    def progress(self) -> BatchProgress:
        assert self.p is not None
        return self.p


def _reason(e: ActivityError) -> str:
    cause = e.cause
    return str(cause.message if cause is not None and hasattr(cause, "message") else e)
