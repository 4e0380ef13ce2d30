"""Provisioning intake's activities: its setup, Exhibit A to the database and to Halo, the
passwords' erasure, time entries, the console projection, closing, and the monthly gauge.

Exhibit A passwords pass through `save_details` only: encrypted into the database with the
at-rest key and written to Halo's provisioning tab; nothing here logs them, and the errors
raised name the step, never a value.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.itsm_halo import HaloAdapter
from activities.itsm_http import itsm_errors
from domain.itsm import ItsmPort, Resolution, TicketChange
from domain.provisioning import (
    EraseSecrets,
    Projection,
    RecordTime,
    ReportRequest,
    ResolveTicket,
    SaveDetails,
    Setup,
    WorkType,
    halo_custom_fields,
)
from domain.provisioning_gauge import Gauge
from domain.settings import Settings
from store import provisioning as prov_store
from store.secret_box import SecretBox


class ProvisioningActivities:
    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        adapters: dict[str, ItsmPort],
        box: SecretBox | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.adapters = adapters
        self.box = box or SecretBox.from_settings(settings)

    @property
    def _halo(self) -> HaloAdapter:
        halo = self.adapters["halo"]
        assert isinstance(halo, HaloAdapter)
        return halo

    @activity.defn(name="provisioning_setup")
    @itsm_errors
    async def setup(self, halo_ticket_id: str) -> Setup:
        """The desk calendar, the `provisioning:` reference data and Halo's work types."""

        def read() -> Setup:
            year = datetime.now(UTC).year
            with self.sessions() as db:
                calendar = prov_store.read_calendar(db, range(year - 1, year + 3))
                spec = prov_store.read_spec(db)
            return Setup(calendar=calendar, spec=spec, work_types=[])

        try:
            setup = await asyncio.to_thread(read)
        except prov_store.NoProvisioning as e:
            # Retried: an operator loading the reference data lets the tickets go on.
            raise ApplicationError(str(e), type="NoProvisioning") from e
        types = [WorkType(**w) for w in await self._halo.work_types()]
        return setup.model_copy(update={"work_types": types})

    @activity.defn(name="provisioning_save_details")
    @itsm_errors
    async def save_details(self, req: SaveDetails) -> None:
        """Passwords encrypted into the database, then all 14 fields onto Halo's
        provisioning tab (both idempotent: a retry writes the same values again)."""

        def write() -> dict[str, int]:
            with self.sessions.begin() as db:
                prov_store.save_secrets(db, self.box, req.halo_ticket_id, req.exhibit)
                return prov_store.read_spec(db).custom_field_ids

        ids = await asyncio.to_thread(write)
        change = TicketChange(
            key=req.key,
            ticket_id=req.halo_ticket_id,
            custom_fields=halo_custom_fields(req.exhibit, ids),
            note=f"deskflow: Exhibit A (provisioning details) recorded by {req.by}.",
        )
        await self._halo.update(change)

    @activity.defn(name="provisioning_erase_secrets")
    async def erase_secrets(self, req: EraseSecrets) -> int:
        def erase() -> int:
            with self.sessions.begin() as db:
                return prov_store.erase_secrets(db, req.halo_ticket_id)

        return await asyncio.to_thread(erase)

    @activity.defn(name="provisioning_record_time")
    async def record_time(self, req: RecordTime) -> None:
        def write() -> None:
            with self.sessions.begin() as db:
                prov_store.record_time(db, req.halo_ticket_id, req.entry)

        await asyncio.to_thread(write)

    @activity.defn(name="provisioning_project")
    async def project(self, req: Projection) -> None:
        def write() -> None:
            with self.sessions.begin() as db:
                prov_store.project(db, req.state)

        await asyncio.to_thread(write)

    @activity.defn(name="provisioning_resolve")
    @itsm_errors
    async def resolve(self, req: ResolveTicket) -> None:
        await self._halo.resolve(
            Resolution(key=req.key, ticket_id=req.halo_ticket_id, notes=req.notes)
        )

    @activity.defn(name="provisioning_compliance")
    async def compliance(self, req: ReportRequest) -> Gauge:
        def read() -> Gauge:
            with self.sessions() as db:
                spec = prov_store.read_spec(db)
                return prov_store.gauge(db, req.month, self.settings.timezone, spec.work_type)

        return await asyncio.to_thread(read)
