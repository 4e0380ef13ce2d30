"""Orchestration only: deterministic workflow code that runs in Temporal's sandbox."""

from workflows.approver_digest import ApproverDigest
from workflows.itsm_catch_up import ItsmCatchUp
from workflows.outage import Outage
from workflows.partner_triage import PartnerTriage
from workflows.refresh_batch import RefreshBatch
from workflows.refresh_ticket import RefreshTicket
from workflows.schedule_slots import DiscoverScheduleSlots, GenerateScheduleSlots
from workflows.service_desk_ticket import DeskTicket
from workflows.sla_clock import SlaClock

ALL_WORKFLOWS = [
    RefreshTicket,
    RefreshBatch,
    GenerateScheduleSlots,
    DiscoverScheduleSlots,
    ApproverDigest,
    DeskTicket,
    SlaClock,
    ItsmCatchUp,
    Outage,
    PartnerTriage,
]
