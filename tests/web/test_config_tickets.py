"""Configs and the tickets that run under them: what an edit reaches, which version each
ticket acted under, and single tickets created from a serial (with every refusal)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from temporalio.client import WorkflowExecutionStatus

from activities import ticket_starts
from domain.refresh import Status
from tests.itsm.helpers import until as until_fetched
from tests.web.helpers import bearer, invited
from tests.web.test_configs import fresh
from tests.workflows.helpers import reach, save_history, settle, start, ticket_input, until


@pytest.fixture
async def admin(web) -> httpx.AsyncClient:
    web.headers.update(await bearer(web, "admin"))
    return web


async def test_an_edit_shows_how_many_running_tickets_each_change_reaches(admin, env, worker):
    config = fresh()
    assert (await admin.post("/api/configs", json=config)).status_code == 201
    cid = config["id"]
    wizard = ticket_input("on_prem", cid)  # invited, wizard not submitted
    approval = ticket_input("on_prem", cid)  # wizard submitted, waiting for approval
    lab = ticket_input("no_customer", cid)  # pending_ordering at once
    h_wizard, h_approval = await invited(env, worker, wizard, approval)
    h_lab = await start(env, worker, lab)
    await h_approval.execute_update(
        "submit_wizard",
        {
            "location": "Angell Hall, 2001",
            "device": {"model": "Dell Latitude 7450", "platform": "windows"},
        },
    )
    await settle(h_approval, Status.pending_approval)
    await settle(h_lab, Status.pending_ordering)
    await settle(h_wizard, Status.pending_wizard)
    await projected(admin, cid, 3)
    # The projection follows an update's reply: wait for the submitted wizard's row too.
    await projected(admin, cid, 1, Status.pending_approval.value)

    edited = config | {
        "approvers": [{"uniqname": "appr2", "name": "Bo Approver", "email": "appr2@example.edu"}],
        "options": {"can_customize_computer": False},
        "software_catalog": ["MATLAB", "SPSS"],
        "prestage_group": "LSA-Refresh-2028",
        "default_style": "remote",
    }
    r = await admin.post(f"/api/configs/{cid}/impact", json={"edited_version": 1, "config": edited})
    assert r.status_code == 200, r.text
    reach_of = {i["field"]: i["tickets"] for i in r.json()["impact"]}
    assert reach_of == {
        "default_style": 0,  # read when a ticket is created
        "approvers": 3,  # every running ticket, from its next step on
        "options": 1,  # only the ticket whose wizard is not submitted
        "software_catalog": 2,  # tickets before ordering
        "prestage_group": 3,  # tickets whose replacement is not assigned yet
    }
    # Each ticket's audit names the config version its run acted under (version 1).
    detail = (await admin.get(f"/api/tickets/{approval.ticket_id}")).json()
    versions = {a["action"]: a["detail"].get("config_version") for a in detail["audits"]}
    assert versions["created"] == 1 and versions["wizard submitted"] == 1, versions
    page = await admin.get(f"/tickets/{approval.ticket_id}")
    assert f'href="/configs/{cid}#history">v1</a>' in page.text


async def projected(
    client: httpx.AsyncClient, config_id: str, count: int, status: str | None = None
) -> None:
    """Wait until the ticket projection (what the preview counts) lists `count` tickets
    (in `status`, if given)."""
    deadline = time.monotonic() + 15
    params = {"config": config_id} | ({"status": status} if status else {})
    while True:
        r = await client.get("/api/tickets", params=params)
        if len(r.json()["tickets"]) == count:
            return
        assert time.monotonic() < deadline, r.json()
        await asyncio.sleep(0.05)


def seed_tdx(sim, owned: str = "SOLO111") -> None:
    sim.tdx.add_person(
        "kowner", UID="uid-kowner", FullName="Kim Owner", PrimaryEmail="k@example.edu"
    )
    common = {"SupportingDepartmentName": "nit-central", "LocationName": "Mason Hall"}
    sim.tdx.add_asset(owned, OwningCustomerID="uid-kowner", LocationRoomName="2100", **common)
    sim.tdx.add_asset("NOOWNER7", **common)


async def test_single_ticket_from_a_serial_and_every_refusal(admin, sim, env, worker):
    seed_tdx(sim)
    config = fresh(requires_approval=False, approvers=[])
    assert (await admin.post("/api/configs", json=config)).status_code == 201
    cid = config["id"]
    body = {"config_id": cid, "serial": "solo111", "delegate_name": "Del Egate"}
    body["delegate_email"] = "del@example.edu"
    r = await admin.post("/api/single-tickets", json=body)
    assert r.status_code == 201, r.text
    ticket_id = r.json()["ticket_id"]
    assert ticket_id == f"{cid}.SOLO111"  # the batch id rule
    await projected(admin, cid, 1)
    detail = (await admin.get(f"/api/tickets/{ticket_id}")).json()
    s = detail["state"]
    assert s["user"]["name"] == "Kim Owner" and s["delegate"]["email"] == "del@example.edu"
    assert s["support_team"] == "nit-central" and s["existing_system"]["location"] == (
        "Mason Hall, 2100"
    )
    assert detail["audits"][0]["to_status"] == Status.pending_invite.value

    refusals = [
        (body, 409, "serial", "already running for solo111"),
        (body | {"serial": "NOOWNER7"}, 422, "serial", "no owner in TDX"),
        (body | {"serial": "NOSUCH99"}, 422, "serial", "unknown serial"),
        (body | {"serial": "bad serial!"}, 422, "serial", "3-64 letters"),
        (body | {"config_id": "no-such-config"}, 422, "config_id", "unknown refresh config"),
        (body | {"serial": "XYZ22", "style": "drive_by"}, 422, "style", "style must be one of"),
        (body | {"serial": "NOOWNER7", "delegate_email": "nope"}, 422, "delegate.email", ""),
        (body | {"owner": "me"}, 422, "owner", ""),
    ]
    for sent, status, field, words in refusals:
        r = await admin.post("/api/single-tickets", json=sent)
        assert (r.status_code, r.json()["field"]) == (status, field), (sent, r.text)
        assert words in r.json()["detail"], r.text
    # The same system under another config: still one running ticket per system.
    other = fresh(requires_approval=False, approvers=[])
    assert (await admin.post("/api/configs", json=other)).status_code == 201
    r = await admin.post("/api/single-tickets", json=body | {"config_id": other["id"]})
    assert r.status_code == 409 and ticket_id in r.json()["detail"]


async def test_a_system_never_gets_a_second_ticket_under_the_same_config(admin, sim, env, worker):
    """The projection may lag the workflow: the batch's own refusal still stops a second one."""
    seed_tdx(sim, "SOLO333")  # its own system: the database lives for the session
    config = fresh(requires_approval=False, approvers=[])
    assert (await admin.post("/api/configs", json=config)).status_code == 201
    first = await admin.post(
        "/api/single-tickets", json={"config_id": config["id"], "serial": "SOLO333"}
    )
    assert first.status_code == 201
    handle = env.client.get_workflow_handle(f"refresh-{config['id']}.SOLO333")
    await reach(handle, Status.pending_invite)
    await handle.execute_update("cancel", {"actor": "admin", "reason": "test"})
    await reach(handle, Status.cancelled)
    await projected(admin, config["id"], 1, status="cancelled")
    # Cancelled: the projection no longer counts it as running, but the id is taken for good.
    r = await admin.post(
        "/api/single-tickets", json={"config_id": config["id"], "serial": "SOLO333"}
    )
    assert r.status_code == 409 and "already has a refresh ticket" in r.json()["detail"]


async def test_edited_approvers_apply_to_a_running_ticket_from_its_next_step(admin, env, worker):
    config = fresh()
    assert (await admin.post("/api/configs", json=config)).status_code == 201
    inp = ticket_input("on_prem", config["id"])
    [handle] = await invited(env, worker, inp)
    await handle.execute_update(
        "submit_wizard",
        {
            "location": "Angell Hall, 2001",
            "device": {"model": "Dell Latitude 7450", "platform": "windows"},
        },
    )
    await settle(handle, Status.pending_approval)
    edited = config | {
        "approvers": [{"uniqname": "appr2", "name": "Bo Approver", "email": "appr2@example.edu"}]
    }
    r = await admin.put(
        f"/api/configs/{config['id']}", json={"edited_version": 1, "config": edited}
    )
    assert r.status_code == 200
    # The ticket takes the edit before its next step, and says so in its audit trail.
    s = await until(handle, lambda s: s.audits[-1].action == "config applied", "config applied")
    assert "approvers" in s.audits[-1].detail
    removed = await bearer(admin, "appr1")
    r = await admin.post(f"/api/tickets/{inp.ticket_id}/approve", json={}, headers=removed)
    # Refused already today: the web app reads the config's approvers from the database.
    assert r.status_code in (403, 404), "the removed approver must be refused"
    added = await bearer(admin, "appr2")
    r = await admin.post(f"/api/tickets/{inp.ticket_id}/approve", json={}, headers=added)
    assert r.status_code == 200, r.text
    s = await reach(handle, Status.pending_ordering)
    assert s.approved_by == "appr2"
    await save_history(handle, "config_reload_approved")


async def test_a_serial_is_looked_up_live_before_any_ticket_is_made(admin, sim, env, worker):
    seed_tdx(sim)
    tdx_tickets = len(sim.tdx.tickets)
    r = await admin.get("/api/single-tickets/lookup", params={"serial": "solo111"})
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["user"]["name"] == "Kim Owner" and found["support_team"] == "nit-central"
    assert found["location"] == "Mason Hall, 2100" and found["model"]
    for serial, words in (
        ("NOOWNER7", "no owner in TDX"),
        ("NOSUCH99", "unknown serial"),
        ("bad serial!", "3-64 letters"),
    ):
        r = await admin.get("/api/single-tickets/lookup", params={"serial": serial})
        assert (r.status_code, r.json()["field"]) == (422, "serial"), r.text
        assert words in r.json()["detail"]
    assert len(sim.tdx.tickets) == tdx_tickets  # looking is not creating


async def ticket_detail(client: httpx.AsyncClient, ticket_id: str) -> dict:
    return (await client.get(f"/api/tickets/{ticket_id}")).json()


async def test_a_ticket_is_found_while_tdx_cannot_make_its_ticket(
    admin, sim, env, worker, monkeypatch
):
    """TDX refuses every new ticket: the new ticket is still in the list and on its page,
    with the TDX call that waits, and takes its TDX ticket once TDX is back."""
    monkeypatch.setattr(ticket_starts, "SETUP_WAIT_SECONDS", 0.5)  # the batch moves on
    # A 500 leaves a create uncertain: it is looked for, then sent again, after this (real) time.
    monkeypatch.setattr(worker, "tdx_create_settle_seconds", 1.0)
    seed_tdx(sim, "SOLO444")
    sim.tdx.fail("POST", r"/\d+/tickets$", 500, count=None)
    config = fresh(requires_approval=False, approvers=[])
    assert (await admin.post("/api/configs", json=config)).status_code == 201
    r = await admin.post(
        "/api/single-tickets", json={"config_id": config["id"], "serial": "SOLO444"}
    )
    assert r.status_code == 201 and r.json()["started"], r.text
    ticket_id = r.json()["ticket_id"]
    [row] = (await admin.get("/api/tickets", params={"config": config["id"]})).json()["tickets"]
    assert (row["ticket_id"], row["status"], row["tdx_ticket_id"]) == (
        ticket_id,
        Status.pending_invite.value,
        None,
    )

    # The page shows the TDX call that waits and why, once its first attempt has failed (on a
    # loaded machine that can be after the single ticket's answer).
    def tdx_waiting(detail: dict) -> list[dict]:
        pending = detail["pending_activities"]
        return [p for p in pending if p["activity"] == "tdx_create_ticket" and p["last_failure"]]

    detail = await until_fetched(
        lambda: ticket_detail(admin, ticket_id), tdx_waiting, "the waiting TDX call", timeout=30
    )
    assert "TDX" in tdx_waiting(detail)[0]["last_failure"], detail["pending_activities"]
    again = await admin.post(
        "/api/single-tickets", json={"config_id": config["id"], "serial": "SOLO444"}
    )
    assert again.status_code == 409 and ticket_id in again.json()["detail"]

    sim.tdx.clear_faults()
    await env.sleep(600)  # the create's retries come due
    detail = await until_fetched(
        lambda: ticket_detail(admin, ticket_id),
        lambda d: d["ticket"]["tdx_ticket_id"] is not None,
        "its TDX ticket",
        timeout=30,
    )
    assert detail["ticket"]["tdx_ticket_id"] in sim.tdx.tickets
    assert [a["action"] for a in detail["audits"]][:1] == ["created"]


async def refused_ticket(admin, sim, worker, monkeypatch, serial: str) -> tuple[str, dict, dict]:
    """A single ticket whose setup TDX refuses for good (a status id TDX does not have: 400):
    its id, the request that made it, and its detail once its row shows it cancelled."""
    monkeypatch.setattr(ticket_starts, "SETUP_WAIT_SECONDS", 0.5)
    monkeypatch.setattr(worker, "tdx_new_status_id", 999)
    seed_tdx(sim, serial)
    config = fresh(requires_approval=False, approvers=[])
    assert (await admin.post("/api/configs", json=config)).status_code == 201
    body = {"config_id": config["id"], "serial": serial}
    r = await admin.post("/api/single-tickets", json=body)
    assert r.status_code == 201, r.text
    ticket_id = r.json()["ticket_id"]
    detail = await until_fetched(
        lambda: ticket_detail(admin, ticket_id),
        lambda d: d["ticket"]["status"] == Status.cancelled.value,
        "its row cancelled",
        timeout=30,
    )
    return ticket_id, body, detail


async def test_a_ticket_tdx_refuses_is_shown_cancelled_with_the_reason(
    admin, sim, env, worker, monkeypatch
):
    """TDX refuses the ticket for good: the run fails, and the ticket's row, written as it
    started, says why, cancelled; it no longer counts as the system's running ticket."""
    ticket_id, body, detail = await refused_ticket(admin, sim, worker, monkeypatch, "SOLO555")
    last = detail["audits"][-1]
    assert last["to_status"] == Status.cancelled.value and last["detail"]["text"] == (
        "could not be set up: TDX answered 400: TDX error 400: Invalid StatusID 999."
    )
    handle = env.client.get_workflow_handle(f"refresh-{ticket_id}")
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    await save_history(handle, "setup_refused")

    monkeypatch.setattr(worker, "tdx_new_status_id", 1)
    other = fresh(requires_approval=False, approvers=[])
    assert (await admin.post("/api/configs", json=other)).status_code == 201
    again = await admin.post("/api/single-tickets", json=body | {"config_id": other["id"]})
    assert again.status_code == 201, again.text


async def test_a_refused_ticket_starts_again_once_its_setting_is_put_right(
    admin, sim, env, worker, monkeypatch
):
    """The refusal's cause is put right (the status id): the same system under the same
    config starts again, as the same ticket. Its row takes the new run, its audits keep the
    refusal and go on after it, and it has one TDX ticket; while it runs, it is the
    system's ticket again."""
    ticket_id, body, _ = await refused_ticket(admin, sim, worker, monkeypatch, "SOLO666")
    monkeypatch.setattr(worker, "tdx_new_status_id", 1)
    again = await admin.post("/api/single-tickets", json=body)
    assert again.status_code == 201 and again.json()["ticket_id"] == ticket_id, again.text
    detail = await until_fetched(
        lambda: ticket_detail(admin, ticket_id),
        lambda d: d["ticket"]["tdx_ticket_id"] is not None,
        "its TDX ticket",
        timeout=30,
    )
    assert detail["ticket"]["status"] == Status.pending_invite.value
    trail = [(a["seq"], a["action"], a["to_status"]) for a in detail["audits"]]
    assert trail == [
        (1, "created", Status.pending_invite.value),
        (2, "status", Status.cancelled.value),
        (3, "created", Status.pending_invite.value),
    ], trail
    mine = [t for t in sim.tdx.tickets.values() if ticket_id in (t.get("Description") or "")]
    assert [t["ID"] for t in mine] == [detail["ticket"]["tdx_ticket_id"]]
    handle = env.client.get_workflow_handle(f"refresh-{ticket_id}")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    await save_history(handle, "restarted_after_refusal")
    third = await admin.post("/api/single-tickets", json=body)
    assert third.status_code == 409 and ticket_id in third.json()["detail"], third.text


async def test_a_ticket_started_again_shows_so_though_its_row_write_was_lost(
    admin, sim, env, worker, monkeypatch
):
    """The worker dies between starting the ticket again and writing its row (here, the
    write raises once): the start's retry finds its own run and writes the row, so the
    ticket shows started again while TDX still cannot make its TDX ticket."""
    ticket_id, body, _ = await refused_ticket(admin, sim, worker, monkeypatch, "SOLO777")
    monkeypatch.setattr(worker, "tdx_new_status_id", 1)
    sim.tdx.fail("POST", r"/\d+/tickets$", 500, count=None)  # the new run's setup waits
    write = ticket_starts.TicketStartActivities._write_row
    lost = []

    def dies_once(self, state):
        if not lost:
            lost.append(state.ticket_id)
            raise RuntimeError("the worker died before the row was written")
        write(self, state)

    monkeypatch.setattr(ticket_starts.TicketStartActivities, "_write_row", dies_once)
    again = await admin.post("/api/single-tickets", json=body)
    assert again.status_code == 201 and again.json()["ticket_id"] == ticket_id, again.text
    detail = await until_fetched(
        lambda: ticket_detail(admin, ticket_id),
        lambda d: d["ticket"]["status"] == Status.pending_invite.value,
        "the row of the run started again",
        timeout=30,
    )
    assert lost == [ticket_id] and detail["ticket"]["tdx_ticket_id"] is None
    trail = [(a["seq"], a["to_status"]) for a in detail["audits"]]
    assert trail == [(1, Status.pending_invite.value), (2, Status.cancelled.value)], trail
