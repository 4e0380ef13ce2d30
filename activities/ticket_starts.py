"""start_refresh_ticket: start a ticket's workflow exactly once, findable from the start
(its search attributes, and its row in the app database: see `_first_row`).

A ticket's id is its config and serial, and one run ends it for good, with one exception: a
run that failed (its setup refused: a TDX setting or a team's calendar, since put right)
is started again by the next launch that names it, and the new run goes on from the old
one's row and audits (`_start_again`).

A batch starts tickets at the pace the workers set them up: each start returns once the
new ticket's row shows it set up (its TDX ticket made), so a batch's IN_FLIGHT rows bound
how many tickets are being set up at once. Without that, a 2,000-row batch with TDX's
limits lifted handed one worker thousands of workflow tasks at once, and many waited past
their sticky schedule-to-start timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from activities.ticket_projection import projection_row
from domain import search_attributes as sa
from domain.refresh import (
    WORKFLOW_TYPE,
    AuditEntry,
    RefreshTicketInput,
    StartResult,
    StartTicket,
    TicketState,
    workflow_id,
)
from domain.refresh_lifecycle import (
    first_status,
    new_ticket_state,
    refused_at_setup,
    restarted_ticket_state,
)
from store.tables import Audit, RefreshConfig, SupportTeam, Ticket
from store.ticket_rows import insert_new_tickets, upsert_tickets

RowWrite = Callable[[Session, Sequence[Mapping[str, Any]]], None]

# Longest a start waits for its ticket's setup, under the batch's 30 s start_to_close: a
# ticket whose setup is slow (TDX down) holds its batch row no longer than this.
SETUP_WAIT_SECONDS = 20.0


def initial_search_attributes(t: RefreshTicketInput) -> TypedSearchAttributes:
    pairs = [
        SearchAttributePair(sa.REFRESH_STATUS, first_status(t.style).value),
        SearchAttributePair(sa.SUPPORT_TEAM, t.support_team),
        SearchAttributePair(sa.REFRESH_STYLE, t.style),
        SearchAttributePair(sa.CONFIG_ID, t.config_id),
        SearchAttributePair(sa.EXISTING_SERIAL, t.existing_system.serial),
    ]
    if t.batch_id:
        pairs.append(SearchAttributePair(sa.BATCH_ID, t.batch_id))
    if t.replacement_system:
        pairs.append(SearchAttributePair(sa.REPLACEMENT_SERIAL, t.replacement_system.serial))
    return TypedSearchAttributes(pairs)


def check_references(db: Session, t: RefreshTicketInput) -> None:
    """Refuse a ticket whose config or team does not exist, before any workflow starts."""
    if db.get(RefreshConfig, t.config_id) is None:
        raise ApplicationError(
            f"unknown refresh config '{t.config_id}'", type="UnknownReference", non_retryable=True
        )
    if db.get(SupportTeam, t.support_team) is None:
        raise ApplicationError(
            f"unknown support team '{t.support_team}'", type="UnknownReference", non_retryable=True
        )


@dataclass(frozen=True)
class Found:
    """The run a start found already under the ticket's id."""

    ours: bool  # started by this launch: an earlier attempt of this start
    status: WorkflowExecutionStatus | None
    run_id: str | None


async def start_ticket(
    client: Client,
    task_queue: str,
    t: RefreshTicketInput,
    started_by: str,
    reuse: WorkflowIDReusePolicy = WorkflowIDReusePolicy.REJECT_DUPLICATE,
) -> Found | None:
    """Start once: None if started now, else the run already under the id (a retry of the
    same launch, its worker dead after the start, finds its own)."""
    try:
        await client.start_workflow(
            WORKFLOW_TYPE,
            t,
            id=workflow_id(t.ticket_id),
            task_queue=task_queue,
            id_reuse_policy=reuse,
            search_attributes=initial_search_attributes(t),
            memo={"started_by": started_by},
        )
    except WorkflowAlreadyStartedError:
        desc = await client.get_workflow_handle(workflow_id(t.ticket_id)).describe()
        ours = await desc.memo_value("started_by", default=None) == started_by
        return Found(ours=ours, status=desc.status, run_id=desc.run_id)
    return None


class TicketStartActivities:
    def __init__(self, client: Client, task_queue: str, sessions: sessionmaker[Session]) -> None:
        self.client = client
        self.task_queue = task_queue
        self.sessions = sessions

    @activity.defn(name="start_refresh_ticket")
    async def start_refresh_ticket(self, req: StartTicket) -> StartResult:
        t = req.ticket
        with self.sessions() as db:
            check_references(db, t)
        found = await start_ticket(self.client, self.task_queue, t, req.started_by)
        if found is None:
            await asyncio.to_thread(self._first_row, t)
            started = True
        else:
            started = await self._already_there(req, found)
        await self.set_up(t.ticket_id)
        return StartResult(ticket_id=t.ticket_id, started=started)

    async def _already_there(self, req: StartTicket, found: Found) -> bool:
        """Whether this launch has the ticket, its id already taken: its own run (an earlier
        attempt started it), or a run it starts now over another launch's failed one."""
        refused = await asyncio.to_thread(self._refused, req.ticket.ticket_id)
        if found.ours:
            if found.status == WorkflowExecutionStatus.RUNNING and refused is not None:
                # An earlier attempt started it again and died before writing its row.
                state = restarted_ticket_state(req.ticket, *refused, datetime.now(UTC))
                await asyncio.to_thread(self._write_row, state)
            return True
        if found.status != WorkflowExecutionStatus.FAILED or refused is None:
            return False
        return await self._start_again(req, found.run_id, *refused)

    async def _start_again(
        self, req: StartTicket, failed_run: str | None, audits: list[AuditEntry], revision: int
    ) -> bool:
        """Start a ticket whose run failed in its setup as a new run that goes on from the
        old run's audits and row (`restarted_ticket_state`), and show it started at once.
        Temporal's ALLOW_DUPLICATE_FAILED_ONLY also admits a run terminated, cancelled or
        timed out; `_already_there` admits only a failed one whose row shows its setup
        refused. A TDX ticket, tasks and post the old run made are the new run's: they are
        made once per ticket."""
        t = req.ticket
        desc = await self.client.get_workflow_handle(workflow_id(t.ticket_id)).describe()
        if desc.run_id != failed_run:  # another launch started it again since
            return False
        state = restarted_ticket_state(t, audits, revision, datetime.now(UTC))
        again = t.model_copy(update={"resume": state})
        found = await start_ticket(
            self.client,
            self.task_queue,
            again,
            req.started_by,
            WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
        if found is not None:  # another launch started it again first
            return found.ours
        await asyncio.to_thread(self._write_row, state)
        return True

    def _refused(self, ticket_id: str) -> tuple[list[AuditEntry], int] | None:
        """If the ticket's row shows its setup refused (`refused_at_setup`): the audits the
        app holds of it and the revision a new run goes on from (the row's, plus one)."""
        with self.sessions() as db:
            state = db.scalar(select(Ticket.state).where(Ticket.ticket_id == ticket_id))
            if state is None or not refused_at_setup(TicketState.model_validate(state)):
                return None
            rows = db.scalars(select(Audit).where(Audit.ticket_id == ticket_id).order_by(Audit.seq))
            audits = [
                AuditEntry(
                    seq=a.seq,
                    at=a.at,
                    actor=a.actor,
                    action=a.action,
                    from_status=a.from_status,
                    to_status=a.to_status,
                    detail=(a.detail or {}).get("text", ""),
                )
                for a in rows
            ]
        return audits, int(state.get("revision") or 0) + 1

    def _write_row(self, state: TicketState, write: RowWrite = upsert_tickets) -> None:
        """The ticket's row from `state`; by default (a ticket started again) never over a
        newer row: the new run's own wins."""
        with self.sessions.begin() as db:
            write(db, [projection_row(state.model_dump(mode="json"), state.created_at)])

    def _first_row(self, t: RefreshTicketInput) -> None:
        """The ticket's row as it starts. The workflow writes its own rows from the end of its
        setup (or a message answered during it); until then (TDX down or slow: minutes,
        hours) the ticket would be in no list and its page would say it does not exist,
        though it runs. Not written if the workflow's row came first; replaced by the
        workflow's first (revision 1 against this row's 0)."""
        self._write_row(new_ticket_state(t, datetime.now(UTC)), insert_new_tickets)

    async def set_up(self, ticket_id: str) -> bool:
        """Whether the ticket's row shows it set up within SETUP_WAIT_SECONDS (polled,
        backing off)."""
        deadline = time.monotonic() + SETUP_WAIT_SECONDS
        pause = 0.05
        while True:
            if await asyncio.to_thread(self._is_set_up, ticket_id):
                return True
            if time.monotonic() + pause > deadline:
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    def _is_set_up(self, ticket_id: str) -> bool:
        with self.sessions() as db:
            query = select(Ticket.tdx_ticket_id).where(Ticket.ticket_id == ticket_id)
            return db.scalar(query) is not None
