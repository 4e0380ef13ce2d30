"""ApproverDigest: the Friday-morning status email to every approver (seed 001 "Approvers").

Started by the `approver-digest` schedule (Fridays 07:00 local). It sends only when today,
in the calendar's time zone, is a Friday: a manual or caught-up run on another day sends
nothing. One email per approver with tickets to report, keyed per approver per Friday, so a
second run the same Friday sends none again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.scheduled_jobs import (
        DIGEST_WORKFLOW,
        FRIDAY,
        ApproverDigestInput,
        ApproverDigestResult,
        DigestRecipient,
        DigestRecipientsRequest,
        SendDigestRequest,
        SendDigestResult,
    )
    from domain.slot_generation import local_date

SENDS_IN_FLIGHT = 8


@workflow.defn(name=DIGEST_WORKFLOW)
class ApproverDigest:
    @workflow.run
    async def run(self, inp: ApproverDigestInput) -> ApproverDigestResult:
        now = workflow.now()
        today = local_date(now, inp.timezone)
        if today.weekday() != FRIDAY:
            workflow.logger.info("approver digest: %s is not a Friday, nothing sent", today)
            return ApproverDigestResult(day=today, is_friday=False)
        recipients = await workflow.execute_activity(
            "approver_digest_recipients",
            DigestRecipientsRequest(friday=today, now=now, approvers=inp.approvers),
            result_type=list[DigestRecipient],
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )
        limit = asyncio.Semaphore(SENDS_IN_FLIGHT)

        async def send(r: DigestRecipient) -> SendDigestResult:
            async with limit:
                return await workflow.execute_activity(
                    "send_approver_digest",
                    SendDigestRequest(uniqname=r.uniqname, friday=today, now=now),
                    result_type=SendDigestResult,
                    start_to_close_timeout=timedelta(minutes=1),
                    retry_policy=RetryPolicy(
                        maximum_interval=timedelta(minutes=10),
                        non_retryable_error_types=["UnknownApprover"],
                    ),
                )

        sent = await asyncio.gather(*(send(r) for r in recipients))
        return ApproverDigestResult(day=today, is_friday=True, sent=[s for s in sent if s.sent])
