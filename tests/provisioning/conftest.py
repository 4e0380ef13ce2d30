"""Provisioning fixtures: the ITSM tests' desk and web app (webhooks over loopback), plus the
`provisioning:` reference data and its staff."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete

from store.db import make_engine, session_factory
from store.reference import load_reference_file
from store.tables import (
    Audit,
    EmailLog,
    ItsmDelivery,
    ProvisioningSecret,
    ProvisioningTicket,
    ProvisioningTime,
)
from tests.itsm.conftest import desk_loaded, hooks  # noqa: F401 - fixtures reused

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def prov_loaded(db_url: str, desk_loaded: None) -> None:  # noqa: F811
    with session_factory(make_engine(db_url)).begin() as db:
        load_reference_file(HERE / "provisioning.yaml", db)


@pytest.fixture
async def halo(hooks: str, prov_loaded: None, db_url: str) -> str:  # noqa: F811
    """The web app's URL, with Halo's webhooks delivered to it and provisioning loaded.

    The Halo stand-in numbers tickets from 1001 again in every test, so the rows and email
    log and webhook deliveries of earlier tests' tickets are cleared first (the same ids
    and bodies would look already done).
    """
    with session_factory(make_engine(db_url)).begin() as db:
        for table in (ProvisioningSecret, ProvisioningTicket, ProvisioningTime, ItsmDelivery):
            db.execute(delete(table))
        db.execute(delete(Audit).where(Audit.ticket_id.like("provisioning-%")))
        db.execute(delete(EmailLog).where(EmailLog.ticket_id.like("provisioning-%")))
        db.execute(delete(EmailLog).where(EmailLog.ticket_id.like("halo-%")))
    return hooks
