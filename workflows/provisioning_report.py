"""ProvisioningComplianceReport: the work-type gauge by email to the Service Desk Manager.

Started every morning of a month's first week by the `provisioning-compliance` Schedule; it
acts only on the month's first business day (pure calendar code decides), and mails last
month's gauge once (the email's key is the month). Given a `month`, it reports that month now.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr loads it lazily)

    from domain.activity_requests import EmailRequest, EmailResult
    from domain.provisioning import REPORT_WORKFLOW, ReportInput, ReportRequest, Setup
    from domain.provisioning_gauge import Gauge, report_month

SHORT = timedelta(seconds=30)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))


@workflow.defn(name=REPORT_WORKFLOW)
class ProvisioningComplianceReport:
    @workflow.run
    async def run(self, inp: ReportInput) -> Gauge | None:
        setup = await workflow.execute_activity(
            "provisioning_setup",
            "",
            result_type=Setup,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        today = setup.calendar._local(workflow.now()).date()
        month = report_month(setup.calendar, today, inp.month)
        if month is None:
            return None
        gauge = await workflow.execute_activity(
            "provisioning_compliance",
            ReportRequest(month=month, key=f"provisioning-compliance:{month}"),
            result_type=Gauge,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        manager = setup.spec.desk_manager
        await workflow.execute_activity(
            "send_email",
            EmailRequest(
                key=f"provisioning-compliance:{month}:{manager.email}",
                ticket_id="",
                template="provisioning_compliance",
                audience="team",
                to=str(manager.email),
                extra={
                    "name": manager.name,
                    "gauge": gauge.model_dump(mode="json"),
                    "percent": gauge.overall.percent,
                    "analysts": {a: s.percent for a, s in gauge.analysts.items()},
                },
            ),
            result_type=EmailResult,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        return gauge
