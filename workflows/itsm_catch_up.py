"""ItsmCatchUp: the `itsm-catch-up` Schedule's run, so a lost webhook costs minutes.

Every few minutes it asks the ITSM what changed since the watermark and delivers each change
to the ticket's workflows exactly as a webhook would (signal-with-start); they drop what they
already have. The reading and delivering is one activity, retried until the ITSM answers.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.desk_messages import CatchUpInput, CatchUpRequest, CatchUpResult


@workflow.defn(name="ItsmCatchUp")
class ItsmCatchUp:
    @workflow.run
    async def run(self, inp: CatchUpInput) -> CatchUpResult:
        return await workflow.execute_activity(
            "itsm_catch_up",
            CatchUpRequest(itsm=inp.itsm, task_queue=workflow.info().task_queue),
            result_type=CatchUpResult,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=2)),
        )
