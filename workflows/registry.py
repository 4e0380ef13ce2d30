"""Every workflow the worker runs: the list `worker.py`, the replay tests and the bench use."""

from workflows.after_hours import AfterHoursEscalation
from workflows.approver_digest import ApproverDigest
from workflows.itsm_catch_up import ItsmCatchUp
from workflows.itsm_lookup import LookupItsmTicket
from workflows.outage import Outage
from workflows.partner_triage import PartnerTriage
from workflows.provisioning_intake import ProvisioningIntake
from workflows.provisioning_report import ProvisioningComplianceReport
from workflows.refresh_batch import RefreshBatch
from workflows.refresh_ticket import RefreshTicket
from workflows.schedule_slots import DiscoverScheduleSlots, GenerateScheduleSlots
from workflows.service_desk_ticket import DeskTicket
from workflows.sla_clock import SlaClock
from workflows.system_lookup import LookupSystem

ALL_WORKFLOWS = [
    RefreshTicket,
    RefreshBatch,
    GenerateScheduleSlots,
    DiscoverScheduleSlots,
    ApproverDigest,
    DeskTicket,
    SlaClock,
    ItsmCatchUp,
    LookupSystem,
    Outage,
    PartnerTriage,
    ProvisioningIntake,
    ProvisioningComplianceReport,
    AfterHoursEscalation,
    LookupItsmTicket,
]
