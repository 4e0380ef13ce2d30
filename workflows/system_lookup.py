"""LookupSystem: what TDX knows of one existing system, for a person waiting at a form.

The TDX client is an activity (the web app may not call TDX itself), so the staff page asks
through this short workflow: one look-up on the paced asset-search queue, a few quick
retries, and an unknown serial answered at once.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.refresh import SYSTEM_LOOKUP_WORKFLOW_TYPE, SystemLookup
    from domain.tdx_queues import tdx_queue


@workflow.defn(name=SYSTEM_LOOKUP_WORKFLOW_TYPE)
class LookupSystem:
    @workflow.run
    async def run(self, serial: str) -> SystemLookup:
        return await workflow.execute_activity(
            "tdx_lookup_system",
            serial,
            result_type=SystemLookup,
            task_queue=tdx_queue(workflow.info().task_queue, "asset_search"),
            start_to_close_timeout=timedelta(seconds=20),
            retry_policy=RetryPolicy(
                maximum_attempts=3, non_retryable_error_types=["UnknownSerial"]
            ),
        )
