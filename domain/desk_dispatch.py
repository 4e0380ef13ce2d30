"""Which workflows an ITSM event goes to: one place for the webhook and the catch-up poll.

Each event is delivered by signal-with-start (signal `ticket_event`) to every workflow
listed here for the ticket, so the first delivery starts them and the rest only signal.
Later processes (provisioning intake, partner triage) add their workflow to `targets`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from domain.itsm import ItsmEvent, ItsmName
from domain.partner_triage import WORKFLOW_TYPE as PARTNER_TRIAGE
from domain.partner_triage import TriageInput
from domain.partner_triage import workflow_id as triage_workflow_id
from domain.provisioning import WORKFLOW_TYPE as PROVISIONING
from domain.provisioning import IntakeInput, category_of
from domain.provisioning import workflow_id as provisioning_workflow_id
from domain.sla_clock import WORKFLOW_TYPE as SLA_CLOCK
from domain.sla_clock import SlaClockInput
from domain.sla_clock import workflow_id as sla_workflow_id

SIGNAL = "ticket_event"
DESK_TICKET = "ServiceDeskTicket"


def desk_workflow_id(itsm: str, ticket_id: str) -> str:
    return f"desk-{itsm}-{ticket_id}"


class DeskTicketInput(BaseModel):
    """Start input of `ServiceDeskTicket`; events arrive as `ticket_event` signals."""

    model_config = ConfigDict(extra="forbid")

    itsm: ItsmName
    ticket_id: str


@dataclass(frozen=True)
class Target:
    workflow: str
    id: str
    arg: BaseModel


def targets(event: ItsmEvent) -> list[Target]:
    """The workflows of the event's ticket, each with its start input."""
    itsm, tid = event.itsm, event.ticket.id
    found = [
        Target(DESK_TICKET, desk_workflow_id(itsm, tid), DeskTicketInput(itsm=itsm, ticket_id=tid)),
        Target(SLA_CLOCK, sla_workflow_id(itsm, tid), SlaClockInput(itsm=itsm, ticket_id=tid)),
        Target(
            PARTNER_TRIAGE,
            triage_workflow_id(itsm, tid),
            TriageInput(itsm=itsm, ticket_id=tid),
        ),
    ]
    # Seed 000: Halo tickets in category 7 (Procurement) or 8 (Provisioning).
    if itsm == "halo" and category_of(event.ticket.category)[0] in (7, 8) and tid.isdigit():
        found.append(
            Target(PROVISIONING, provisioning_workflow_id(tid), IntakeInput(halo_ticket_id=tid))
        )
    return found
