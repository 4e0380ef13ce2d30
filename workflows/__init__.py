"""Orchestration only: deterministic workflow code that runs in Temporal's sandbox."""

from workflows.refresh_batch import RefreshBatch
from workflows.refresh_ticket import RefreshTicket

ALL_WORKFLOWS = [RefreshTicket, RefreshBatch]
