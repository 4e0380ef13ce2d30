"""Outage activities: the problem in the ITSM, linking incidents to it, and resolving each
linked incident with its customer's `outage_resolved` email, once.

All ITSM writes go through the port's adapters with idempotency keys; the email goes through
the ordinary `send_email` machinery (its log is claimed before SMTP), so a retry after a
crash, a timeout or a 429 neither resolves twice nor emails twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email import EmailActivities
from activities.itsm_http import itsm_errors
from domain.activity_requests import EmailRequest
from domain.desk_messages import ITSM_NAMES, desk_ticket_key
from domain.itsm import (
    FINISHED,
    ItsmError,
    ItsmNotFound,
    ItsmPort,
    ItsmRateLimited,
    NewTicket,
    ProblemLink,
    Resolution,
    TicketKind,
)
from domain.outages import (
    LinkRequest,
    OutageProjection,
    OutagesSpec,
    ProblemRequest,
    ResolveRequest,
    ResolveResult,
)
from store import processes

T = TypeVar("T")
PATIENCE = 8  # calls tried in-process before Temporal's retry takes over


async def nap(seconds: float) -> None:
    """Sleep, heartbeating every few seconds, so a live activity is never taken for dead."""
    while seconds > 0:
        activity.heartbeat("waiting on the ITSM")
        await asyncio.sleep(min(seconds, 5))
        seconds -= 5


async def patient(call: Callable[[], Awaitable[T]]) -> T:
    """One ITSM call, tried again here on a 429 (after its Retry-After) or a 5xx / dropped
    connection (short backoff), so one flaky answer among thousands of calls does not throw
    away the activity's progress; after PATIENCE tries the error goes to Temporal."""
    for attempt in range(PATIENCE):
        try:
            return await call()
        except ItsmRateLimited as e:
            if attempt == PATIENCE - 1:
                raise
            await nap(min(e.retry_after_seconds, 60))
        except (ItsmError, httpx.TransportError) as e:
            transient = not isinstance(e, ItsmError) or e.status >= 500
            if not transient or attempt == PATIENCE - 1:
                raise
            await nap(min(0.1 * 2**attempt, 5))
        activity.heartbeat(f"retry {attempt + 1}")
    raise AssertionError("unreachable")


class OutageActivities:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        adapters: dict[str, ItsmPort],
        email: EmailActivities,
    ) -> None:
        self.sessions = sessions
        self.adapters = adapters
        self.email = email

    @activity.defn(name="outage_load_spec")
    async def load_spec(self) -> OutagesSpec:
        def read() -> OutagesSpec:
            with self.sessions() as db:
                return processes.read_outages_spec(db)

        try:
            return await asyncio.to_thread(read)
        except processes.NoProcessConfig as e:
            raise ApplicationError(str(e), type="NoProcessConfig") from e

    @activity.defn(name="outage_create_problem")
    @itsm_errors
    async def create_problem(self, req: ProblemRequest) -> str:
        new = NewTicket(
            key=req.key,
            kind=TicketKind.problem,
            summary=req.summary,
            details=req.details,
            team=req.team,
        )
        problem = await patient(lambda: self.adapters[req.itsm].create(new))
        return problem.id

    @activity.defn(name="outage_link_incidents")
    @itsm_errors
    async def link_incidents(self, req: LinkRequest) -> list[str]:
        """Link each incident to the problem; returns the ids the ITSM does not know."""
        port = self.adapters[req.itsm]
        details = activity.info().heartbeat_details
        done, missing = (int(details[0]), list(details[1])) if len(details) == 2 else (0, [])
        for i, tid in enumerate(req.ticket_ids[done:], start=done):
            link = ProblemLink(
                key=f"outage-{req.outage_id}:link:{tid}", ticket_id=tid, problem_id=req.problem_id
            )
            try:
                await patient(lambda link=link: port.link_to_problem(link))
            except ItsmNotFound:
                missing.append(tid)
            activity.heartbeat(i + 1, missing)  # a retry resumes after the last one linked
        return missing

    @activity.defn(name="outage_resolve_incident")
    @itsm_errors
    async def resolve_incident(self, req: ResolveRequest) -> ResolveResult:
        """Resolve the incident if it is still linked to the outage's problem in the ITSM,
        then email its customer (`outage_resolved`, keyed per outage and incident)."""
        port = self.adapters[req.itsm]
        try:
            ticket = await patient(lambda: port.get(req.ticket_id))
        except ItsmNotFound:
            return ResolveResult(ticket_id=req.ticket_id, resolved=False, skipped="not found")
        if ticket.problem_id != req.problem_id:
            return ResolveResult(
                ticket_id=req.ticket_id,
                resolved=False,
                skipped=f"no longer linked to problem {req.problem_id} in the ITSM",
            )
        if ticket.status not in FINISHED:
            resolution = Resolution(
                key=f"outage-{req.outage_id}:resolve:{req.ticket_id}",
                ticket_id=req.ticket_id,
                notes=req.notes,
            )
            ticket = await patient(lambda: port.resolve(resolution))
        if not req.email or not ticket.user.email:
            return ResolveResult(ticket_id=req.ticket_id, resolved=True)
        sent = await self.email.send_email(
            EmailRequest(
                key=f"outage-{req.outage_id}:resolved:{req.ticket_id}",
                ticket_id=desk_ticket_key(req.itsm, req.ticket_id),
                template="outage_resolved",
                to=ticket.user.email,
                extra={
                    "lang": "en",
                    "itsm": ITSM_NAMES[req.itsm],
                    "number": ticket.id,
                    "summary": ticket.summary,
                    "user_name": ticket.user.name,
                    "service": req.service,
                    "outage": req.summary,
                },
            )
        )
        return ResolveResult(ticket_id=req.ticket_id, resolved=True, emailed_to=sent.to)

    @activity.defn(name="project_outage")
    async def project(self, row: OutageProjection) -> None:
        def write() -> None:
            with self.sessions.begin() as db:
                processes.project_outage(db, row)

        await asyncio.to_thread(write)
