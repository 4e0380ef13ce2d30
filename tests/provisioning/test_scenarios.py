"""The seed's four scenarios, each from intake to close, against the Halo stand-in over HTTP
(webhook in, API out), plus the repair: every Halo call is checked, as Halo stores it.

Desk: Detroit 08:00-17:00, US holidays (tests/itsm/desk.yaml). Monday 2026-12-07 09:00.
"""

from __future__ import annotations

from sqlalchemy import select

from domain import search_attributes as sa
from domain.provisioning import CLOSE_REASON, REPAIR_REASON, SD_REASON, Status
from store.db import make_engine, session_factory
from store.tables import ProvisioningSecret, ProvisioningTime
from tests.itsm.helpers import local, move_to
from tests.provisioning.helpers import (
    ALEX,
    ALEX_EMAIL,
    CASEY,
    CAT_8A,
    CAT_8B,
    CAT_8C,
    CAT_8D,
    PAT,
    PI,
    PROCUREMENT,
    SAM,
    exhibit,
    handle,
    notes,
    refused,
    update,
    wait_halo,
    wait_state,
)
from tests.workflows.helpers import save_history

FIELD_IDS = range(201, 215)


def secrets_rows(settings, tid: int) -> list[ProvisioningSecret]:
    with session_factory(make_engine(settings.database_url))() as db:
        q = select(ProvisioningSecret).where(ProvisioningSecret.halo_ticket_id == str(tid))
        return list(db.scalars(q))


def time_rows(settings, tid: int) -> list[ProvisioningTime]:
    with session_factory(make_engine(settings.database_url))() as db:
        q = select(ProvisioningTime).where(ProvisioningTime.halo_ticket_id == str(tid))
        return list(db.scalars(q))


async def provision_and_close(env, sim, settings, tid: int) -> None:
    """Assign Alex, fill Exhibit A, refuse SD time, log P&I time, close: the common tail."""
    h = handle(env, tid)
    s = await update(
        h,
        "assign",
        {
            "by": CASEY.model_dump(),
            "analyst": "alex",
            "analyst_name": "Alex Analyst",
            "analyst_email": ALEX_EMAIL,
            "halo_agent_id": 5,
        },
    )
    assert (s.status, s.analyst) == (Status.provisioning, "alex")
    t = await wait_halo(sim, tid, lambda t: t["agent_id"] == 5, "agent set in Halo")
    assert t["status_id"] == 2

    s = await update(h, "submit_details", {"by": ALEX.model_dump(), "details": exhibit()})
    assert s.details is not None and s.details.passwords_recorded
    assert s.details.serial_number == "7XK2-9QF3"
    t = await wait_halo(sim, tid, lambda t: len(t["customfields"]) == 14, "Exhibit A in Halo")
    fields = {f["id"]: f["value"] for f in t["customfields"]}
    assert set(fields) == set(FIELD_IDS)
    assert fields[201] == "2026-12-18" and fields[208] == "7XK2-9QF3"
    assert fields[209] == "Yes" and fields[213] == "No" and fields[214] == "New CIT"
    assert len(secrets_rows(settings, tid)) == 2

    # The seed's refusal, in deskflow: no SD work type on category 8; no close without P&I.
    message = await refused(
        h, "log_time", {"by": ALEX.model_dump(), "hours": "1.5", "work_type": "SD - Remote Support"}
    )
    assert SD_REASON in message
    assert CLOSE_REASON in await refused(h, "request_close", {"by": ALEX.model_dump()})

    s = await update(
        h,
        "log_time",
        {"by": ALEX.model_dump(), "hours": "2.5", "work_type": "Provisioning and Imaging"},
    )
    timed = [a for a in sim.halo.actions(tid) if a["timetaken"]]
    assert [(a["timetaken"], a["chargerate"]) for a in timed] == [(2.5, PI)]
    assert [(r.work_type, r.hours, r.category8) for r in time_rows(settings, tid)] == [
        ("Provisioning and Imaging", "2.5", True)
    ]

    s = await update(h, "request_close", {"by": ALEX.model_dump(), "note": "Delivered"})
    assert s.status == Status.closed
    await wait_halo(sim, tid, lambda t: t["status_id"] == 9, "closed in Halo")
    assert secrets_rows(settings, tid) == [], "deskflow erased its copy of the passwords"
    assert not s.details.passwords_recorded


async def test_scenario_1_category_7_to_8a_to_close(env, halo, sim, settings):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("New laptop for Dana", category_1=PROCUREMENT, tickettype_id=3)
    tid = t["id"]
    h = handle(env, tid)
    await wait_state(h, lambda s: s.status == Status.procurement, "procurement")

    # Only Procurement marks equipment received.
    assert "Procurement" in await refused(h, "equipment_received", {"by": ALEX.model_dump()})
    s = await update(h, "equipment_received", {"by": PAT.model_dump(), "note": "PO 4471"})
    assert (s.status, s.category, s.subcategory) == (Status.care_team_review, 8, "A")
    t = await wait_halo(sim, tid, lambda t: t["category_1"] == CAT_8A, "8A in Halo")
    assert (t["categoryid_1"], t["team"]) == (81, "Care Team")
    assert any("equipment received" in n and "PO 4471" in n for n in notes(sim, tid))
    # Not twice: it is no longer in procurement.
    assert "procurement" in await refused(h, "equipment_received", {"by": PAT.model_dump()})
    await provision_and_close(env, sim, settings, tid)
    found = (await h.describe()).typed_search_attributes
    assert found.get(sa.PROVISIONING_STATUS) == "closed"
    assert found.get(sa.PROVISIONING_SUBCATEGORY) == ["A"]
    assert found.get(sa.PROVISIONING_ANALYST) == ["alex"]
    assert found.get(sa.HALO_TICKET_ID) == tid
    await save_history(h, "provisioning_7_to_8a_closed")


async def test_scenario_2_category_8b_opened_in_halo(env, halo, sim, settings):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Client's own laptop to provision", category_1=CAT_8B)
    h = handle(env, t["id"])
    s = await wait_state(h, lambda s: s.status is not None, "intake")
    assert (s.category, s.subcategory) == (8, "B")
    await provision_and_close(env, sim, settings, t["id"])


async def test_scenario_3_category_8c_reprovision(env, halo, sim, settings):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Cascade laptop to new user", category_1=CAT_8C)
    h = handle(env, t["id"])
    s = await wait_state(h, lambda s: s.status is not None, "intake")
    assert s.subcategory == "C"
    await provision_and_close(env, sim, settings, t["id"])


async def test_scenario_4_8d_reminded_until_confirmed_c(env, halo, sim, settings):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Equipment from somewhere", category_1=CAT_8D)
    tid = t["id"]
    h = handle(env, tid)
    s = await wait_state(h, lambda s: s.status == Status.pending_confirmation, "8D")
    key = f"provisioning-{tid}"

    def reminders() -> int:
        return len(sim.mail.find(ticket=key, template="provisioning_notice")) - 1

    await wait_state(h, lambda s: s.next_wakeup is not None, "reminder timer")
    # Two business days later (Wednesday 09:00), then Friday 09:00: reminded each time.
    await move_to(env, sim, local(2026, 12, 9, 8, 59))
    assert reminders() == 0
    await move_to(env, sim, local(2026, 12, 9, 9, 1))
    await wait_state(h, lambda s: s.reminders_sent == 1, "first reminder")
    await move_to(env, sim, local(2026, 12, 11, 9, 1))
    await wait_state(h, lambda s: s.reminders_sent == 2, "second reminder")
    mails = sim.mail.find(ticket=key, template="provisioning_notice")
    assert all(m.envelope_to == ["sam.specialist@example.org"] for m in mails)

    # Only the specialist confirms, and only A, B or C.
    assert "Provisioning Specialist" in await refused(
        h, "set_subcategory", {"by": CASEY.model_dump(), "subcategory": "C"}
    )
    assert "unknown subcategory" in await refused(
        h, "set_subcategory", {"by": SAM.model_dump(), "subcategory": "E"}
    )
    s = await update(h, "set_subcategory", {"by": SAM.model_dump(), "subcategory": "c"})
    assert (s.status, s.subcategory, s.next_wakeup) == (Status.care_team_review, "C", None)
    t = await wait_halo(sim, tid, lambda t: t["category_1"] == CAT_8C, "8C in Halo")
    assert t["categoryid_1"] == 83
    await move_to(env, sim, local(2026, 12, 16, 9))
    assert (await wait_state(h, lambda s: True, "state")).reminders_sent == 2
    await provision_and_close(env, sim, settings, tid)
    await save_history(h, "provisioning_8d_reminded_closed")


async def test_repair_is_an_incident_with_sd_time(env, halo, sim, settings):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Reimage after disk swap", category_1=CAT_8C, tickettype_id=3)
    tid = t["id"]
    h = handle(env, tid)
    await wait_state(h, lambda s: s.status is not None, "intake")
    s = await update(
        h,
        "reclassify_as_repair",
        {"by": ALEX.model_dump(), "reason": "disk replaced under warranty"},
    )
    assert (s.status, s.category) == (Status.repair, None)
    t = await wait_halo(sim, tid, lambda t: t["tickettype_id"] == 1, "incident in Halo")
    assert (t["category_1"], t["categoryid_1"]) == ("Hardware>Repair", 90)
    assert any("reclassified as a repair" in n for n in notes(sim, tid))

    message = await refused(
        h,
        "log_time",
        {"by": ALEX.model_dump(), "hours": 1, "work_type": "Provisioning and Imaging"},
    )
    assert REPAIR_REASON in message
    await update(
        h, "log_time", {"by": ALEX.model_dump(), "hours": 1, "work_type": "SD - Remote Support"}
    )
    assert [(r.work_type, r.category8) for r in time_rows(settings, tid)] == [
        ("SD - Remote Support", False)
    ]
    s = await update(h, "request_close", {"by": ALEX.model_dump()})
    assert s.status == Status.closed
