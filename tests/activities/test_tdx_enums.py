"""TDX carries its enums as numbers; the daily delivery check must read them as TDX sends them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.tdx import TdxActivities
from activities.tdx_client import TdxClient
from domain.activity_requests import DeliveryCheck, TdxTicketRequest
from sim.tdx import STATUS_CANCELLED, STATUS_CLOSED, STATUS_IN_PROCESS
from store.db import make_engine, session_factory


@pytest.fixture
def acts(settings) -> TdxActivities:
    client = TdxClient.from_settings(settings, min_retry_after=timedelta(0))
    return TdxActivities(settings, session_factory(make_engine(settings.database_url)), client)


async def _ticket(acts: TdxActivities, key: str, kind: str = "refresh") -> int:
    req = TdxTicketRequest(key=key, ticket_id=key, kind=kind, title=key, description=key)
    return (await ActivityEnvironment().run(acts.create_ticket, req)).tdx_ticket_id


async def test_tickets_are_created_with_numeric_classifications(acts, sim):
    sim.tdx.reset()
    refresh = sim.tdx.tickets[await _ticket(acts, "enum-refresh")]
    change = sim.tdx.tickets[await _ticket(acts, "enum-change", "change_request")]
    assert (refresh["Classification"], refresh["ClassificationName"]) == (46, "Service Request")
    assert (change["Classification"], change["ClassificationName"]) == (34, "Change")
    assert (refresh["StatusName"], refresh["StatusClass"]) == ("New", 1)


@pytest.mark.parametrize(
    ("status_id", "name", "status_class"),
    [(STATUS_CLOSED, "Closed", 3), (STATUS_CANCELLED, "Cancelled", 4)],
)
async def test_daily_check_sees_a_closed_ticket_as_closed(acts, sim, status_id, name, status_class):
    sim.tdx.reset()
    tdx_id = await _ticket(acts, f"enum-closed-{status_id}")
    check = DeliveryCheck(
        ticket_id="t", tdx_ticket_id=tdx_id, deliver_task_id=None, installed_known=True
    )
    sim.tdx.close_ticket(tdx_id, STATUS_IN_PROCESS)
    with pytest.raises(ApplicationError, match="no progress yet"):
        await ActivityEnvironment().run(acts.delivery_progress, check)
    closed = sim.tdx.close_ticket(tdx_id, status_id)
    assert (closed["StatusName"], closed["StatusClass"]) == (name, status_class)
    assert await ActivityEnvironment().run(acts.delivery_progress, check) == "closed"
