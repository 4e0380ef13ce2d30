"""Orchestration only: deterministic workflow code that runs in Temporal's sandbox."""

from workflows.approver_digest import ApproverDigest
from workflows.refresh_batch import RefreshBatch
from workflows.refresh_ticket import RefreshTicket
from workflows.schedule_slots import DiscoverScheduleSlots, GenerateScheduleSlots
from workflows.system_lookup import LookupSystem

ALL_WORKFLOWS = [
    RefreshTicket,
    RefreshBatch,
    GenerateScheduleSlots,
    DiscoverScheduleSlots,
    ApproverDigest,
    LookupSystem,
]
