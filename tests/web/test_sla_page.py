"""The staff console's "Tickets under SLA": every clock with its state, working time left and
due instants, soonest due first, filtered by state; staff only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.desk_messages import SlaProjection
from domain.sla import SlaState
from domain.sla_clock import ClockState
from store import service_desk as desk_store
from store.db import make_engine, session_factory
from tests.web.helpers import login


def project(settings, ticket_id: str, state: SlaState, due: datetime | None, left: int) -> None:
    clock = ClockState(
        itsm="halo",
        ticket_id=ticket_id,
        summary=f"Summary of {ticket_id}",
        team="Hardware Team",
        priority="2",
        state=state,
        opened_at=datetime(2026, 12, 7, 14, tzinfo=UTC),
        response_due=due,
        resolution_due=due,
        response_left=timedelta(seconds=left),
        resolution_left=timedelta(seconds=left),
    )
    with session_factory(make_engine(settings.database_url)).begin() as db:
        desk_store.project_sla(db, SlaProjection(clock=clock, due_at=due))


async def test_tickets_under_sla_shows_state_time_left_and_due_instants(web, worker):
    project(worker, "9001", SlaState.warning, datetime(2026, 12, 8, 15, tzinfo=UTC), 5400)
    project(worker, "9002", SlaState.breached, datetime(2026, 12, 7, 20, tzinfo=UTC), -1800)
    project(worker, "9003", SlaState.paused, None, 7200)
    await login(web, "manager")
    r = await web.get("/sla")
    assert r.status_code == 200
    html = r.text
    assert "Tickets under SLA" in html
    assert html.index("9002") < html.index("9001") < html.index("9003"), "soonest due first"
    assert "Breached" in html and "overdue by 0 h 30 min" in html
    assert "Warning" in html and "1 h 30 min" in html
    assert "Paused (on hold)" in html
    assert "Mon Dec 7, 2026 3:00 PM" in html  # 20:00 UTC in Detroit
    assert "SlaState" in html  # the Temporal UI search link
    r = await web.get("/sla?state=breached")
    assert "9002" in r.text and "9001" not in r.text


async def test_tickets_under_sla_is_for_staff_only(web, worker):
    r = await web.get("/sla", follow_redirects=False)
    assert r.status_code in (302, 303)
    await login(web, "appr1")
    r = await web.get("/sla")
    assert r.status_code == 403
