"""LookupItsmTicket: does the ITSM have this ticket? Asked by the webhook before it delivers.

The web layer may not call the ITSM itself (the import rule), so `/hooks/{itsm}` asks through
this short workflow, as the single-ticket page asks TDX through `LookupSystem`: one `get`,
a few quick retries, and a 404 answered at once as "not found", so a well-formed delivery
for a ticket the ITSM does not have is refused before it starts or signals anything.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.desk_messages import TICKET_LOOKUP_WORKFLOW, ItsmGet, TicketExistence
    from domain.itsm import ServiceDeskTicket
    from workflows.desk_calls import refusal

QUICK = RetryPolicy(initial_interval=timedelta(milliseconds=300), maximum_attempts=3)


@workflow.defn(name=TICKET_LOOKUP_WORKFLOW)
class LookupItsmTicket:
    @workflow.run
    async def run(self, req: ItsmGet) -> TicketExistence:
        try:
            ticket = await workflow.execute_activity(
                "itsm_get_ticket",
                req,
                result_type=ServiceDeskTicket,
                start_to_close_timeout=timedelta(seconds=5),
                retry_policy=QUICK,
            )
        except ActivityError as err:
            refused = refusal(err)
            if refused is None or refused.type != "ItsmNotFound":
                raise  # the ITSM is down or refuses us: the caller answers "try again"
            return TicketExistence(found=False, reason=refused.message)
        return TicketExistence(found=True, ticket=ticket)
