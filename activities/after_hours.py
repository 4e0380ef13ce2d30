"""After-hours activities: reference data, the incident through the ITSM port, pages through
PagerDuty's Events API, and the leads' projection.

Each is idempotent: the ticket create carries the port's key (a retry finds the first
ticket), a page carries the case's dedup key (PagerDuty folds a repeated trigger into the
open alert), and the projection writes the same row for the same state.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.itsm_http import itsm_errors
from activities.pagerduty_client import PagerDutyEvents
from domain.after_hours import AfterHoursDesk, CaseState, LoadAfterHours, OpenTicket
from domain.itsm import ItsmPort, ServiceDeskTicket
from domain.pagerduty import Link, PageAccepted, PageRequest
from domain.responder_links import sign
from domain.settings import Settings
from store import after_hours as store


class AfterHoursActivities:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        adapters: dict[str, ItsmPort],
        pagerduty: PagerDutyEvents,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.adapters = adapters
        self.pagerduty = pagerduty

    @activity.defn(name="after_hours_load")
    async def load(self, req: LoadAfterHours) -> AfterHoursDesk:
        years = range(min(req.years) - 1, max(req.years) + 2)

        def read() -> AfterHoursDesk:
            with self.sessions() as db:
                return store.read_desk(db, years, self.settings.timezone, self.settings.itsm)

        try:
            return await asyncio.to_thread(read)
        except store.NoAfterHours as e:
            # Retried: loading the reference file lets the waiting call go on.
            raise ApplicationError(str(e), type="NoAfterHours") from e

    @activity.defn(name="after_hours_open_ticket")
    @itsm_errors
    async def open_ticket(self, req: OpenTicket) -> ServiceDeskTicket:
        return await self.adapters[req.itsm].create(req.ticket)

    @activity.defn(name="pagerduty_event")
    async def pagerduty_event(self, req: PageRequest) -> PageAccepted:
        event = req.event
        if req.case_id and req.person and event.event_action == "trigger":
            token = sign(self.settings.secret_key.get_secret_value(), req.case_id, req.person)
            base = f"{self.settings.public_url}/after-hours/r/{token}"
            links = [
                Link(href=f"{base}/acknowledge", text="Acknowledge"),
                Link(href=f"{base}/contacted", text="Reached the customer"),
            ]
            event = event.model_copy(update={"links": links})
        return await self.pagerduty.send(event)

    @activity.defn(name="project_after_hours")
    async def project(self, state: CaseState) -> None:
        def write() -> None:
            with self.sessions.begin() as db:
                store.project_case(db, state)

        await asyncio.to_thread(write)
