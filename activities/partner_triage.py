"""Partner-triage activities: its reference data, the ticket's notes, closing a ticket sent
to a partner that works in another system, and the console's projection.

Routing, notes and emails reuse the ITSM port's `itsm_update_ticket` / `itsm_add_note` and
the ordinary `send_email`; everything here is idempotent too.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.itsm_http import itsm_errors
from domain.itsm import ItsmPort, Resolution, ServiceDeskTicket
from domain.partner_triage import (
    CloseRedirected,
    NotesRequest,
    PartnerTriageSpec,
    TriageProjection,
)
from store import processes


class TriageActivities:
    def __init__(self, sessions: sessionmaker[Session], adapters: dict[str, ItsmPort]) -> None:
        self.sessions = sessions
        self.adapters = adapters

    @activity.defn(name="triage_load_spec")
    async def load_spec(self) -> PartnerTriageSpec:
        def read() -> PartnerTriageSpec:
            with self.sessions() as db:
                return processes.read_triage_spec(db)

        try:
            return await asyncio.to_thread(read)
        except processes.NoProcessConfig as e:
            raise ApplicationError(str(e), type="NoProcessConfig") from e

    @activity.defn(name="triage_ticket_notes")
    @itsm_errors
    async def ticket_notes(self, req: NotesRequest) -> list[str]:
        actions = await self.adapters[req.itsm].actions_since(req.ticket_id, None)
        return [a.text[:5000] for a in actions if a.text]

    @activity.defn(name="triage_close_redirected")
    @itsm_errors
    async def close_redirected(self, req: CloseRedirected) -> ServiceDeskTicket:
        return await self.adapters[req.itsm].resolve(
            Resolution(key=req.key, ticket_id=req.ticket_id, notes=req.notes)
        )

    @activity.defn(name="project_triage")
    async def project(self, req: TriageProjection) -> None:
        def write() -> None:
            with self.sessions.begin() as db:
                processes.project_triage(db, req.record, req.decided_at)

        await asyncio.to_thread(write)
