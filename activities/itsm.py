"""Service-desk activities: the ITSM port's writes, the desk's reference data, the SLA
console projection and the catch-up poll.

Each request names its ITSM, so one worker serves Halo and ServiceNow tickets alike (the
deployment's `DESKFLOW_ITSM` only decides which one the webhook and the catch-up read).
Writes go through the adapters, which are idempotent by the request's key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.itsm_halo import HaloAdapter
from activities.itsm_http import itsm_errors
from activities.itsm_servicenow import ServiceNowAdapter
from domain.desk_messages import (
    CatchUpRequest,
    CatchUpResult,
    ItsmAddNote,
    ItsmGet,
    ItsmUpdate,
    LoadDesk,
    SlaProjection,
)
from domain.itsm import ItsmEvent, ItsmPort, Note, ServiceDeskTicket, TicketQuery
from domain.service_desk import ServiceDesk
from domain.settings import Settings
from store import service_desk as desk_store


def adapters_from_settings(settings: Settings) -> dict[str, ItsmPort]:
    return {
        "halo": HaloAdapter(
            settings.halo_base_url,
            settings.halo_client_id,
            settings.halo_client_secret,
            tenant=settings.halo_tenant,
        ),
        "servicenow": ServiceNowAdapter(
            settings.servicenow_base_url,
            settings.servicenow_user,
            settings.servicenow_password,
            auth=settings.servicenow_auth,
            client_id=settings.servicenow_client_id,
            client_secret=settings.servicenow_client_secret,
            grant=settings.servicenow_oauth_grant,
        ),
    }


# Hands an event to its ticket's workflows: `operations.itsm_delivery.deliver`, given by
# worker.py (activities may not import `operations`), bound to the worker's client.
Deliver = Callable[[ItsmEvent, str], Awaitable[object]]


class ItsmActivities:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        adapters: dict[str, ItsmPort],
        deliver: Deliver | None = None,
    ) -> None:
        self.sessions = sessions
        self.adapters = adapters
        self.deliver = deliver

    def _port(self, itsm: str) -> ItsmPort:
        return self.adapters[itsm]

    @activity.defn(name="itsm_load_desk")
    async def load_desk(self, req: LoadDesk) -> ServiceDesk:
        years = range(min(req.years) - 1, max(req.years) + 3)

        def read() -> ServiceDesk:
            with self.sessions() as db:
                return desk_store.read_service_desk(db, years)

        try:
            return await asyncio.to_thread(read)
        except desk_store.NoServiceDesk as e:
            # Retried: an operator loading the file lets the waiting tickets go on.
            raise ApplicationError(str(e), type="NoServiceDesk") from e

    @activity.defn(name="itsm_get_ticket")
    @itsm_errors
    async def get_ticket(self, req: ItsmGet) -> ServiceDeskTicket:
        """The ticket as the ITSM has it now; a 404 is `ItsmNotFound`, not retried."""
        return await self._port(req.itsm).get(req.ticket_id)

    @activity.defn(name="itsm_update_ticket")
    @itsm_errors
    async def update_ticket(self, req: ItsmUpdate) -> ServiceDeskTicket:
        return await self._port(req.itsm).update(req.change)

    @activity.defn(name="itsm_add_note")
    @itsm_errors
    async def add_note(self, req: ItsmAddNote) -> Note:
        return await self._port(req.itsm).add_note(req.note)

    @activity.defn(name="project_sla_clock")
    async def project_sla_clock(self, req: SlaProjection) -> None:
        def write() -> None:
            with self.sessions.begin() as db:
                desk_store.project_sla(db, req)

        await asyncio.to_thread(write)

    @activity.defn(name="itsm_catch_up")
    @itsm_errors
    async def catch_up(self, req: CatchUpRequest) -> CatchUpResult:
        """Read what changed since the watermark (less an overlap for clock skew) and
        deliver it; the workflows drop what they already have, so overlap is harmless."""
        assert self.deliver is not None, "catch-up needs a way to deliver events"
        with self.sessions() as db:
            mark = desk_store.watermark(db, req.itsm)
        started = datetime.now(UTC)
        since = None if mark is None else mark - timedelta(seconds=req.overlap_seconds)
        port = self._port(req.itsm)
        tickets = await port.search(TicketQuery(changed_since=since, limit=1000))
        events = 0
        newest = mark
        for t in tickets:
            actions = await port.actions_since(t.id, None)
            recent = [a for a in actions if since is None or a.at >= since] or [None]
            for a in recent:
                event = ItsmEvent(
                    itsm=req.itsm,
                    delivery_id=f"poll:{t.id}:{a.id if a else t.updated_at.isoformat()}",
                    ticket=t,
                    action=a,
                    source="catch_up",
                )
                await self.deliver(event, req.task_queue)
                events += 1
            newest = max(newest or t.updated_at, t.updated_at)
            activity.heartbeat(t.id)
        with self.sessions.begin() as db:
            desk_store.set_watermark(db, req.itsm, min(newest or started, started))
        return CatchUpResult(tickets=len(tickets), events=events, watermark=newest)
