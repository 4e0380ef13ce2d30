"""The same call on a ServiceNow deployment (WiscIT's part in the seed): the incident goes to
the EAST assignment group with the service as category and the HDQA notes in its description,
and the acknowledgement and callback are written as work notes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from domain.after_hours import SERVICE, CaseStatus
from domain.settings import Settings
from tests.after_hours.helpers import case_until, intake, local, minutes, move_to, outcome, start


@pytest.fixture
async def sn_worker(env, settings: Settings, sim, paging) -> AsyncIterator[Settings]:
    from worker import build_workers

    sim.servicenow.reset()
    local_settings = settings.model_copy(
        update={"itsm": "servicenow", "task_queue": f"sn-{uuid4().hex[:8]}"}
    )
    async with contextlib.AsyncExitStack() as stack:
        for w in build_workers(env.client, local_settings):
            await stack.enter_async_context(w)
        yield local_settings


async def test_incident_and_notes_in_servicenow(env, sn_worker, sim):
    night = local(2026, 12, 12, 23)  # Saturday night
    await move_to(env, sim, night)
    h = await start(env, sn_worker.task_queue, intake("c-sn"))
    s = await case_until(h, lambda c: len(c.pages) == 1, "paged")
    assert s.itsm == "servicenow" and s.incident.startswith("INC")
    [incident] = sim.servicenow.query("incident", f"number={s.incident}")
    assert incident["category"] == SERVICE and incident["assignment_group"] == "EAST"
    assert "HDQA Notes" in incident["description"]
    assert "Pat Caller, phone 608-555-7777" in incident["description"]
    await move_to(env, sim, night + minutes(2))
    await h.execute_update("acknowledge", {"by": s.pages[0].person})
    await h.execute_update("technician_contacted", {"by": s.pages[0].person})
    final = await outcome(h)
    assert final.status == CaseStatus.contacted
    notes = [
        j["value"]
        for j in sim.servicenow.query("sys_journal_field")
        if j.get("element_id") == incident["sys_id"]
    ]
    assert any("acknowledged the after-hours page" in n for n in notes)
    assert any("reached the customer" in n for n in notes)
