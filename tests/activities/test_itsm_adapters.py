"""The ITSM adapters against their stand-ins over loopback HTTP: auth and token refresh,
429 waited out by Retry-After, 5xx retried, and writes that stay single when the product
answers after our timeout."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.itsm import ItsmActivities
from activities.itsm_halo import HaloAdapter
from activities.itsm_servicenow import ServiceNowAdapter
from domain.desk_messages import ItsmAddNote
from domain.itsm import (
    NewNote,
    NewTicket,
    Person,
    ProblemLink,
    Resolution,
    TicketChange,
    TicketKind,
    TicketQuery,
    TicketStatus,
    TimeEntry,
)
from sim.halo import HaloSim
from sim.servicenow import ServiceNowSim

SECRET = SecretStr("local-dev-secret")


def halo(sim, timeout: float | httpx.Timeout = 5.0) -> HaloAdapter:
    return HaloAdapter(sim.halo_base_url, "deskflow", SECRET, timeout=timeout)


def servicenow(sim, timeout: float | httpx.Timeout = 5.0) -> ServiceNowAdapter:
    return ServiceNowAdapter(sim.servicenow_base_url, "deskflow", SECRET, timeout=timeout)


NEW = NewTicket(
    key="create-1",
    kind=TicketKind.incident,
    summary="Laptop will not boot",
    details="Black screen",
    client="Contoso",
    category="Hardware",
    priority="2",
    user=Person(name="Camille Martin", email="camille@example.org"),
)


async def test_halo_logs_in_refreshes_a_revoked_token_and_speaks_the_port(sim):
    port = halo(sim)
    t = await port.create(NEW)
    assert (t.kind, t.priority, t.status, t.client) == (TicketKind.incident, "2", "new", "Contoso")
    sim.halo.revoke_tokens()
    changed = await port.update(TicketChange(key="u1", ticket_id=t.id, team="Support", note="why"))
    assert changed.team == "Support"
    note = await port.add_note(
        NewNote(
            key="n1", ticket_id=t.id, text="Reimaged", time=TimeEntry(hours=1.5, work_type_id=7)
        )
    )
    raw = [a for a in sim.halo.actions(int(t.id)) if a["id"] == int(note.id)][0]
    assert (raw["timetaken"], raw["chargerate"], raw["hiddenfromuser"]) == (1.5, 7, True)
    found = await port.search(TicketQuery(changed_since=t.updated_at - timedelta(seconds=1)))
    assert t.id in [x.id for x in found]
    closed = await port.resolve(Resolution(key="r1", ticket_id=t.id, notes="Fixed"))
    assert closed.status == TicketStatus.closed
    await port.aclose()


async def test_servicenow_speaks_the_table_api(sim):
    port = servicenow(sim)
    sim.servicenow.add_user("Camille Martin", "camille@example.org")
    t = await port.create(NEW)
    assert t.id.startswith("INC") and t.user.email == "camille@example.org"
    problem = sim.servicenow.insert("problem", {"short_description": "Batch of bad disks"})
    linked = await port.link_to_problem(
        ProblemLink(key="l1", ticket_id=t.id, problem_id=problem["number"])
    )
    assert linked.problem_id == problem["number"]  # the reference as people name it
    held = await port.update(TicketChange(key="h1", ticket_id=t.id, status=TicketStatus.on_hold))
    assert held.status == TicketStatus.on_hold
    resolved = await port.resolve(Resolution(key="r1", ticket_id=t.id, notes="Disk replaced"))
    assert resolved.status == TicketStatus.resolved
    record = sim.servicenow.query("incident", f"number={t.id}")[0]
    assert record["close_code"] and "Disk replaced" in record["close_notes"]
    patches = len(sim.servicenow.calls)
    await port.resolve(Resolution(key="r1", ticket_id=t.id, notes="Disk replaced"))
    assert not [c for c in sim.servicenow.calls[patches:] if c[0] == "PATCH"]
    await port.aclose()


@pytest.mark.parametrize("make", [halo, servicenow], ids=["halo", "servicenow"])
async def test_a_write_that_timed_out_is_not_made_twice(sim, make):
    """The product saves the ticket and the note but answers after our timeout; the retry
    (same key) finds them instead of making second ones."""
    product = sim.halo if make is halo else sim.servicenow
    # The answer is late, not the connection: a connect on a loaded machine (the suite runs
    # four-wide) may take longer than the read's 0.3 s, and that is not the case here.
    port = make(sim, timeout=httpx.Timeout(0.3, connect=10.0))
    key = f"timeout-{make.__name__}"
    product.fail(method="POST", path="Tickets$|table/incident$", status="timeout", delay=0.8)
    with pytest.raises(httpx.ReadTimeout):
        await port.create(NEW.model_copy(update={"key": key}))
    patient = make(sim)
    t = await patient.create(NEW.model_copy(update={"key": key}))
    tickets = [x for x in await patient.search(TicketQuery()) if x.summary == NEW.summary]
    assert len([x for x in tickets if f"[deskflow:{key}]" in x.details]) == 1

    method = "POST" if make is halo else "PATCH"
    product.fail(method=method, path="Actions$|incident/", status="timeout", delay=0.8)
    with pytest.raises(httpx.ReadTimeout):
        await port.add_note(NewNote(key=f"{key}-note", ticket_id=t.id, text="Called the user"))
    assert not product.faults.rules, "the slow answer came from the note's write itself"
    await asyncio.sleep(1.0)  # the product finishes the write after we gave up
    saved = [a for a in await patient.actions_since(t.id, None) if "Called the user" in a.text]
    assert len(saved) == 1
    await patient.add_note(NewNote(key=f"{key}-note", ticket_id=t.id, text="Called the user"))
    notes = [a for a in await patient.actions_since(t.id, None) if "Called the user" in a.text]
    assert len(notes) == 1
    await port.aclose()
    await patient.aclose()


async def test_429_waits_for_retry_after_and_500_is_retried(sim, settings):
    t = await halo(sim).create(NEW.model_copy(update={"key": "rl"}))
    acts = ItsmActivities(sessions=None, adapters={"halo": halo(sim)})  # type: ignore[arg-type]
    note = ItsmAddNote(itsm="halo", note=NewNote(key="rl-note", ticket_id=t.id, text="x"))
    sim.halo.fail(method="GET", path="Actions", status=429, retry_after=7)
    with pytest.raises(ApplicationError) as err:
        await acts.add_note(note)
    assert err.value.next_retry_delay == timedelta(seconds=7)
    assert err.value.category == ApplicationErrorCategory.BENIGN
    sim.halo.fail(method="GET", path="Actions", status=500)
    with pytest.raises(ApplicationError) as err:
        await acts.add_note(note)
    assert not err.value.non_retryable
    assert (await acts.add_note(note)).text.startswith("x")


def test_stand_ins_keep_their_records_across_a_restart(tmp_path):
    first = HaloSim(path=str(tmp_path / "halo.db"))
    t = first.save_ticket({"summary": "Kept", "details": ""})
    first.store.close()
    again = HaloSim(path=str(tmp_path / "halo.db"))
    assert again.store.get("ticket", t["id"])["summary"] == "Kept"
    assert again.save_ticket({"summary": "Next", "details": ""})["id"] == t["id"] + 1

    sn = ServiceNowSim(path=str(tmp_path / "sn.db"))
    inc = sn.insert("incident", {"short_description": "Kept"}, notify=False)
    sn.store.close()
    sn_again = ServiceNowSim(path=str(tmp_path / "sn.db"))
    assert sn_again.query("incident", f"number={inc['number']}")[0]["short_description"] == "Kept"


@pytest.mark.parametrize(
    "status, retried",
    [(400, False), (404, False), (422, False), (401, True), (403, True), (429, True), (409, True)],
)
def test_which_refusals_are_retried(status, retried):
    """A deleted ticket or a malformed write is not retried; bad credentials are (an operator
    fixes them and the waiting writes go through), as are rate limits and conflicts."""
    from activities.itsm_http import permanent

    assert permanent(status) is not retried
