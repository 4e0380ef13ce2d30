"""The JSON API, endpoint by endpoint: what it does, and bad input answered 4xx naming the field.

Tickets run on the real worker against the stand-ins; requests go through the ASGI app with
a bearer token (operators' way) unless the test is about the cookie and its CSRF token.
"""

from __future__ import annotations

import asyncio
import base64

from domain.refresh import Status
from tests.web.helpers import (
    bearer,
    invited,
    link_token,
    login,
    to_customer_scheduling,
)
from tests.workflows.helpers import (
    add_slot,
    local,
    move_clock_to,
    reach,
    settle,
    start,
    state,
    ticket_input,
    until,
)

ADDRESS = {
    "name": "Jane Doe",
    "line1": "500 S State St",
    "city": "Ann Arbor",
    "state": "MI",
    "postal_code": "48109",
}


def fault(r, status: int, field: str | None) -> str:
    """Assert a refusal: status and field at fault; return its sentence."""
    assert r.status_code == status, r.text
    body = r.json()
    assert body["field"] == field, body
    assert body["detail"], body
    return body["detail"]


async def test_session_me_csrf_and_bad_logins(web):
    fault(
        await web.post("/api/session", json={"username": "admin", "password": "nope"}),
        401,
        "password",
    )
    fault(await web.post("/api/session", json={"password": "x"}), 422, "username")
    fault(await web.post("/api/session", json={"username": "a", "password": "b", "x": 1}), 422, "x")
    fault(await web.get("/api/me"), 401, None)

    auth = await bearer(web, "manager")
    me = (await web.get("/api/me", headers=auth)).json()
    assert me["roles"] == ["refresh_manager"] and me["username"] == "manager"

    # With the cookie instead of the token, unsafe requests need the CSRF token.
    csrf = await login(web, "manager")
    assert web.cookies.get("deskflow_session")
    r = await web.post("/api/bulk/hold", json={"ticket_ids": ["nope"]})
    fault(r, 403, "csrf_token")
    r = await web.post(
        "/api/bulk/hold", json={"ticket_ids": ["nope"]}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200 and r.json()["refused"][0]["detail"] == "unknown ticket nope"
    assert (await web.delete("/api/session", headers={"X-CSRF-Token": csrf})).status_code == 204


async def test_session_cookie_is_secure_httponly_lax(web):
    r = await web.post("/api/session", json={"username": "admin", "password": "test-password"})
    cookie = r.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


async def test_customer_wizard_and_slot_api(web, env, worker, sim):
    inp = ticket_input("on_prem", "lsa-onprem")
    remote = ticket_input("remote", "med-remote", platform="mac")
    handle, h_remote = await invited(env, worker, inp, remote)
    tok = link_token(worker, inp.ticket_id, "jdoe@example.edu")
    view = (await web.get(f"/api/c/{tok}")).json()
    assert view["status"] == "pending_wizard" and view["next"]["action"] == "wizard"
    assert "audits" not in view  # customers see their ticket, not staff internals

    url = f"/api/c/{tok}/wizard"
    assert "building" in fault(await web.post(url, json={"location": ""}), 422, "location")
    fault(await web.post(url, json={"location": "Here", "bogus": 1}), 422, "bogus")
    fault(await web.post(url, json={"location": "Here", "actor": "someone"}), 422, "actor")
    device = {"model": "Lenovo ThinkPad P16", "platform": "windows"}  # ENG's, not LSA's
    msg = fault(
        await web.post(url, json={"location": "Here", "device": device}), 422, "device.model"
    )
    assert "not an approved windows model for LSA" in msg
    r = await web.post(url, json={"location": "Here", "software": ["Photoshop 1990"]})
    fault(r, 422, "software")
    r = await web.post(url, json={"location": "Angell Hall, 2001", "software": ["SPSS"]})
    assert r.status_code == 200 and r.json()["wizard_submitted"] is True
    fault(await web.post(url, json={"location": "Again"}), 409, None)

    rtok = link_token(worker, remote.ticket_id, "jdoe@example.edu")
    bad = {**ADDRESS, "postal_code": "ABCDE"}
    r = await web.post(f"/api/c/{rtok}/wizard", json={"shipping_address": bad})
    assert "ZIP" in fault(r, 422, "shipping_address.postal_code")
    fault(await web.post(f"/api/c/{rtok}/wizard", json={}), 422, "shipping_address")
    r = await web.post(f"/api/c/{rtok}/wizard", json={"shipping_address": ADDRESS})
    assert r.status_code == 200
    await reach(h_remote, Status.pending_ordering)

    # Slots: none to pick yet; then the team's free slots only.
    assert (await web.get(f"/api/c/{tok}/slots")).json() == []
    fault(await web.post(f"/api/c/{tok}/slot", json={"slot_id": 1}), 409, "slot_id")
    mine = add_slot(worker, "nit-central", local(2027, 4, 6, 9, 0))
    north = add_slot(worker, "nit-north", local(2027, 4, 7, 10, 0))
    await to_customer_scheduling(
        env, worker, sim, handle, serial="APINEW1", slot_ids=[mine], approver="appr1"
    )
    offered = (await web.get(f"/api/c/{tok}/slots")).json()
    assert mine in [s["slot_id"] for s in offered] and north not in [s["slot_id"] for s in offered]
    assert all(s["team_id"] == "nit-central" for s in offered)
    fault(await web.post(f"/api/c/{tok}/slot", json={"slot_id": 0}), 422, "slot_id")
    fault(await web.post(f"/api/c/{tok}/slot", json={"slot_id": "x"}), 422, "slot_id")
    fault(await web.post(f"/api/c/{tok}/slot", json={"slot_id": north}), 409, "slot_id")
    r = await web.post(f"/api/c/{tok}/slot", json={"slot_id": mine})
    assert r.status_code == 200 and r.json()["slot"]["slot_id"] == mine
    s = await until(handle, lambda s: s.confirmed_version == 1, "confirmed")
    assert s.status == Status.delivery_scheduled


async def test_staff_ticket_endpoints(web, env, worker, sim):
    inp = ticket_input("on_prem", "lsa-onprem")
    [handle] = await invited(env, worker, inp)
    tid = inp.ticket_id
    admin, manager = await bearer(web, "admin"), await bearer(web, "manager")

    r = await web.get(
        f"/api/tickets?status=pending_wizard&config=lsa-onprem&q={tid}", headers=admin
    )
    assert [t["ticket_id"] for t in r.json()["tickets"]] == [tid]
    fault(await web.get("/api/tickets?status=bogus", headers=admin), 422, "status")
    fault(await web.get("/api/tickets?limit=0", headers=admin), 422, "limit")
    detail = (await web.get(f"/api/tickets/{tid}", headers=admin)).json()
    assert detail["state"]["status"] == "pending_wizard" and detail["audits"]
    assert detail["links"]["temporal_ui"].endswith(f"/namespaces/default/workflows/refresh-{tid}")
    assert detail["links"]["tdx"] and detail["emails"][0]["template"] == "invite"
    fault(await web.get("/api/tickets/nope", headers=admin), 404, None)

    url = f"/api/tickets/{tid}"
    r = await web.post(f"{url}/hold", json={"reason": "waiting on dept"}, headers=manager)
    assert r.status_code == 200 and r.json()["status"] == "on_hold"
    assert "cannot be put on hold" in fault(
        await web.post(f"{url}/hold", json={}, headers=manager), 409, None
    )
    r = await web.post(f"{url}/release", json={}, headers=manager)
    assert r.json()["status"] == "pending_wizard"
    fault(await web.post(f"{url}/release", json={}, headers=manager), 409, None)
    fault(
        await web.post(f"{url}/provide_location", json={"location": "X"}, headers=manager),
        409,
        None,
    )
    fault(
        await web.post(f"{url}/reschedule", json={"slot_id": "soon"}, headers=manager),
        422,
        "slot_id",
    )
    fault(await web.post(f"{url}/reschedule", json={"slot_id": 5}, headers=manager), 409, None)
    fault(await web.post(f"{url}/cancel", json={}, headers=admin), 422, "reason")
    fault(await web.post(f"{url}/cancel", json={"reason": "x"}, headers=manager), 403, None)
    rep = {"serial": "EXCH1", "platform": "linux", "model": "X"}
    r = await web.post(f"{url}/exchange_replacement", json={"replacement": rep}, headers=admin)
    fault(r, 422, "replacement.platform")
    r = await web.post(f"{url}/set_tracking", json={"tracking_number": "1Z"}, headers=admin)
    fault(r, 422, "tracking_number")
    # A signal the ticket would ignore is refused before it is sent, with the reason.
    r = await web.post(f"{url}/trigger_customer_reschedule", json={"reason": "r"}, headers=manager)
    assert "this ticket is Waiting for the customer's choices" in fault(r, 409, None)
    audits = (await state(handle)).audits
    assert not any(a.action == "ignored reschedule request" for a in audits)
    r = await web.post(f"{url}/send_invite_now", json={}, headers=manager)
    assert "the invite was already sent" in fault(r, 409, None)
    r = await web.post(
        f"{url}/edit", json={"delegate": {"name": "D", "email": "bad"}}, headers=admin
    )
    fault(r, 422, "delegate.email")
    r = await web.post(f"{url}/edit", json={"location": "Mason Hall, 1200"}, headers=admin)
    assert r.status_code == 200 and r.json()["location"] == "Mason Hall, 1200"
    r = await web.post(f"{url}/edit", json={"shipping_address": ADDRESS}, headers=admin)
    assert "only @home" in fault(r, 422, "shipping_address")
    r = await web.post(f"{url}/cancel", json={"reason": "duplicate"}, headers=admin)
    assert r.json()["status"] == "cancelled"
    r = await web.get("/api/problems", headers=manager)
    assert (
        r.status_code == 200 and {"tickets", "failed_emails", "stuck_activities"} <= r.json().keys()
    )


async def test_problems_name_a_ticket_whose_workflow_was_terminated(web, env, worker, sim):
    """An operator terminates a ticket's workflow in Temporal: its row keeps its last status,
    and the Problems view says that deskflow no longer runs it, how and why."""
    stopped, running = ticket_input("on_prem", "lsa-onprem"), ticket_input("on_prem", "lsa-onprem")
    handles = await invited(env, worker, stopped, running)
    await handles[0].terminate(reason="stuck after a bad deploy")
    manager = await bearer(web, "manager")

    r = await web.get("/api/problems", headers=manager)
    assert r.status_code == 200, r.text
    ended = {e["ticket_id"]: e for e in r.json()["ended_outside"]}
    assert running.ticket_id not in ended
    e = ended[stopped.ticket_id]
    assert (e["how"], e["reason"]) == ("terminated", "stuck after a bad deploy") and e["closed"]
    [row] = (await web.get(f"/api/tickets?q={stopped.ticket_id}", headers=manager)).json()[
        "tickets"
    ]
    assert row["status"] == "pending_wizard"  # the row as the workflow last wrote it

    await login(web, "manager")
    page = await web.get("/problems")
    assert page.status_code == 200
    section = page.text.split("Tickets deskflow no longer runs")[1].split("<h2>")[0]
    assert stopped.ticket_id in section and "stuck after a bad deploy" in section
    assert running.ticket_id not in section and "terminated" in section


async def test_send_invite_now_by_a_refresh_manager(web, env, worker, sim):
    await move_clock_to(env, local(2027, 3, 1, 14, 0))
    inp = ticket_input("on_prem", "lsa-onprem")
    handle = await start(env, worker, inp)
    await until(handle, lambda s: s.setup_done and s.invite_at, "setup")
    url = f"/api/tickets/{inp.ticket_id}/send_invite_now"
    fault(await web.post(url, json={}, headers=await bearer(web, "appr1")), 403, None)
    manager = await bearer(web, "manager")
    check = f"/api/tickets/{inp.ticket_id}/check_tdx_now"
    assert "not waiting on TDX" in fault(await web.post(check, headers=manager), 409, None)
    r = await web.post(url, json={"reason": "VIP"}, headers=manager)
    assert r.status_code == 200, r.text
    s = await until(handle, lambda s: s.status == Status.pending_wizard, "invite sent")
    assert any(a.action == "invite sent now" and a.actor == "manager" for a in s.audits)
    assert sim.mail.find(ticket=inp.ticket_id, template="invite")


async def test_approver_endpoints(web, env, worker, sim):
    inp = ticket_input("on_prem", "lsa-onprem")
    [handle] = await invited(env, worker, inp)
    tid = inp.ticket_id
    appr, other = await bearer(web, "appr1"), await bearer(web, "appr2")
    mine = (await web.get("/api/approvals", headers=appr)).json()
    assert tid in [t["ticket_id"] for t in mine["editable"]]
    assert (await web.get("/api/approvals", headers=other)).json()["total"] == 0

    url = f"/api/tickets/{tid}"
    assert "pending_approval" in fault(
        await web.post(f"{url}/approve", json={}, headers=appr), 409, None
    )
    fault(await web.post(f"{url}/approve", json={}, headers=other), 404, None)
    r = await web.post(f"{url}/edit", json={"software": ["MATLAB"]}, headers=appr)
    assert r.status_code == 200 and r.json()["software"] == ["MATLAB"]
    fault(await web.post(f"{url}/edit", json={"software": ["X"]}, headers=other), 404, None)
    fault(
        await web.post(f"{url}/request_change", json={"description": "more RAM"}, headers=appr),
        409,
        None,
    )
    await handle.execute_update("submit_wizard", {"location": "Angell Hall, 2001"})
    await reach(handle, Status.pending_approval)
    fault(await web.post(f"{url}/reject", json={"comment": ""}, headers=appr), 422, "comment")
    r = await web.post(f"{url}/approve", json={"comment": "ok"}, headers=appr)
    assert r.status_code == 200 and r.json()["approved_by"] == "appr1"
    await settle(handle, Status.pending_ordering)
    fault(
        await web.post(f"{url}/request_change", json={"description": "x"}, headers=appr),
        422,
        "description",
    )
    r = await web.post(
        f"{url}/request_change", json={"description": "Needs a second monitor"}, headers=appr
    )
    assert r.status_code == 200 and r.json()["tdx_ticket_id"] > 0
    fault(await web.post(f"{url}/edit", json={"software": []}, headers=appr), 409, None)


async def test_batches_order_groups_and_bulk(web, env, worker, sim):
    sim.tdx.add_person("lab2", UID="uid-lab2", FullName="Lab Two", PrimaryEmail="lab2@example.edu")
    for serial in ("APILAB1", "APILAB2"):
        sim.tdx.add_asset(
            serial, OwningCustomerID="uid-lab2", SupportingDepartmentName="nit-central"
        )
    admin = await bearer(web, "admin")
    csv = "serial\nAPILAB1\nAPILAB2\nbad!\n"
    r = await web.post("/api/batches/preview", json={"csv": csv}, headers=admin)
    assert [x["serial"] for x in r.json()["rows"]] == ["APILAB1", "APILAB2"]
    assert r.json()["refused"][0]["line"] == 4
    fault(
        await web.post("/api/batches/preview", json={"csv": "name\nx\n"}, headers=admin), 422, "csv"
    )
    body = {"config_id": "lab-loaners", "batch_id": "api lab", "csv": csv}
    fault(await web.post("/api/batches", json=body, headers=admin), 422, "batch_id")
    body = {**body, "batch_id": "api-lab", "config_id": "nope"}
    fault(await web.post("/api/batches", json=body, headers=admin), 422, "config_id")
    fault(await web.post("/api/batches", json={"csv": csv}, headers=admin), 422, "config_id")
    r = await web.post("/api/batches", json={**body, "config_id": "lab-loaners"}, headers=admin)
    assert r.status_code == 201, r.text
    progress = None
    for _ in range(200):
        progress = (await web.get("/api/batches/api-lab", headers=admin)).json()["progress"]
        if progress["done"]:
            break
        await asyncio.sleep(0.05)
    assert progress["done"], progress
    assert sorted(progress["started"]) == [
        "lab-loaners.APILAB1",
        "lab-loaners.APILAB2",
    ], progress
    fault(await web.get("/api/batches/nope", headers=admin), 404, None)
    batches = (await web.get("/api/batches", headers=admin)).json()
    assert any(b["batch_id"] == "api-lab" and b["created_by"] == "admin" for b in batches)

    for _ in range(200):  # each ticket is listed once its workflow has written its projection
        waiting = (await web.get("/api/order-groups?batch=api-lab", headers=admin)).json()
        if len(waiting) == 2:
            break
        await asyncio.sleep(0.05)
    ids = sorted(t["ticket_id"] for t in waiting)
    assert ids == ["lab-loaners.APILAB1", "lab-loaners.APILAB2"]
    bad = {
        "assignments": [
            {"ticket_id": ids[0], "replacement": {"serial": "N1", "platform": "pc", "model": "M"}}
        ]
    }
    fault(
        await web.post("/api/order-groups/assign", json=bad, headers=admin),
        422,
        "assignments.0.replacement.platform",
    )
    fault(
        await web.post("/api/order-groups/assign", json={"assignments": []}, headers=admin),
        422,
        "assignments",
    )
    good = {
        "group": "LAB-2027",
        "assignments": [
            {
                "ticket_id": ids[0],
                "replacement": {"serial": "APINEWL1", "platform": "windows", "model": "OptiPlex"},
            },
            {
                "ticket_id": "nope",
                "replacement": {"serial": "APINEWL2", "platform": "windows", "model": "OptiPlex"},
            },
        ],
    }
    r = (await web.post("/api/order-groups/assign", json=good, headers=admin)).json()
    assert r["done"] == [ids[0]] and r["refused"][0]["detail"] == "unknown ticket nope"
    r = await web.post(
        "/api/order-groups/assign-csv", json={"csv": "ticket_id\nx\n"}, headers=admin
    )
    assert "replacement_serial" in fault(r, 422, "csv")
    text = f"ticket_id,replacement_serial,platform,model\n{ids[1]},APINEWL3,windows,OptiPlex\n"
    r = (await web.post("/api/order-groups/assign-csv", json={"csv": text}, headers=admin)).json()
    assert r["done"] == [ids[1]]
    for tid in ids:
        s = await until(
            env.client.get_workflow_handle(f"refresh-{tid}"),
            lambda s: s.status == Status.pending_itsm_existence,
            "itsm",
        )
        assert s.replacement_system is not None

    fault(
        await web.post("/api/bulk/reschedule", json={"ticket_ids": []}, headers=admin),
        422,
        "ticket_ids",
    )
    fault(
        await web.post(
            "/api/bulk/reschedule", json={"ticket_ids": ids, "slot_id": -1}, headers=admin
        ),
        422,
        "slot_id",
    )
    r = (await web.post("/api/bulk/reschedule", json={"ticket_ids": ids}, headers=admin)).json()
    assert r["done"] == [] and len(r["refused"]) == 2  # not scheduling yet
    r = (
        await web.post("/api/bulk/hold", json={"ticket_ids": ids, "reason": "audit"}, headers=admin)
    ).json()
    assert sorted(r["done"]) == ids
    r = (await web.post("/api/bulk/release", json={"ticket_ids": ids}, headers=admin)).json()
    assert sorted(r["done"]) == ids


async def test_configs_teams_slots_and_preferences(web, env, worker, sim):
    inp = ticket_input("unit_location", "eng-unit")
    [handle] = await invited(env, worker, inp)
    await handle.execute_update("submit_wizard", {})
    slot = add_slot(worker, "nit-central", local(2027, 4, 20, 9, 0))
    spare = add_slot(worker, "nit-central", local(2027, 4, 22, 13, 0))
    await to_customer_scheduling(env, worker, sim, handle, serial="APINEW9", slot_ids=[slot, spare])
    admin, slots = await bearer(web, "admin"), await bearer(web, "slotadmin")
    r = await web.post(
        f"/api/tickets/{inp.ticket_id}/reschedule", json={"slot_id": slot}, headers=admin
    )
    assert r.status_code == 200 and r.json()["slot"]["slot_id"] == slot
    await until(handle, lambda s: s.confirmed_version == 1, "confirmed")
    page = (await web.get(f"/tickets/{inp.ticket_id}", headers=admin)).text
    # The audit says the booked slot's time as staff read it, not as the workflow stores it.
    assert f"slot {slot} at Tue Apr 20, 2027 9:00 AM" in page and "2027-04-20T" not in page

    configs = (await web.get("/api/configs", headers=admin)).json()
    assert {"lsa-onprem", "med-remote", "eng-unit", "lab-loaners"} <= {c["id"] for c in configs}
    cfg = (await web.get("/api/configs/lsa-onprem", headers=admin)).json()
    assert cfg["approvers"][0]["uniqname"] == "appr1" and cfg["options"]["can_customize_computer"]
    fault(await web.get("/api/configs/nope", headers=admin), 404, None)
    teams = (await web.get("/api/teams", headers=slots)).json()
    central = next(t for t in teams if t["id"] == "nit-central")
    r = await web.get(central["ics"])  # the subscription link works without a session
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    assert f"slot-{slot}@deskflow" in r.text
    assert (await web.get("/teams/nit-central/slots.ics?key=forged")).status_code == 403
    fault(await web.get("/api/teams/nope/slots", headers=slots), 404, None)
    r = await web.get(
        "/api/teams/nit-central/slots?start=2027-04-19T00:00:00&days=7", headers=slots
    )
    on_slot = next(s for s in r.json() if s["slot_id"] == slot)
    assert on_slot["tickets"] == [inp.ticket_id]
    fault(await web.get("/api/teams/nit-central/slots?days=0", headers=slots), 422, "days")

    prefs = "/api/teams/nit-north/preferences"
    fault(
        await web.post(
            prefs,
            json={
                "weekday": 9,
                "start": "09:00",
                "length_minutes": 60,
                "capacity": 2,
                "location": "N",
            },
            headers=slots,
        ),
        422,
        "weekday",
    )
    fault(
        await web.post(
            prefs,
            json={
                "weekday": 1,
                "start": "9am",
                "length_minutes": 60,
                "capacity": 2,
                "location": "N",
            },
            headers=slots,
        ),
        422,
        "start",
    )
    r = await web.post(
        prefs,
        json={"weekday": 5, "start": "09:00", "length_minutes": 60, "capacity": 2, "location": "N"},
        headers=slots,
    )
    assert r.status_code == 422 and r.json()["field"]  # Saturday: slots are on business days
    r = await web.post(
        prefs,
        json={
            "weekday": "thu",
            "start": "16:00",
            "length_minutes": 60,
            "capacity": 2,
            "location": "North Depot B",
        },
        headers=slots,
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = await web.patch(f"{prefs}/{pid}", json={"capacity": 4}, headers=slots)
    assert r.status_code == 200 and r.json()["capacity"] == 4
    fault(await web.patch(f"{prefs}/{pid}", json={"capacity": 0}, headers=slots), 422, "capacity")
    assert (await web.delete(f"{prefs}/{pid}", headers=slots)).status_code == 204
    fault(await web.delete(f"{prefs}/{pid}", headers=slots), 404, None)
    assert pid not in [p["id"] for p in (await web.get(prefs, headers=slots)).json()]

    fault(await web.delete("/api/slots/999999", headers=slots), 404, None)
    r = await web.delete(f"/api/slots/{slot}", headers=slots)
    assert r.status_code == 200 and r.json()["notified"] == [inp.ticket_id]
    s = await settle(handle, Status.pending_customer_scheduling)
    assert s.slot is None


async def test_codec_endpoint(web, worker):
    payload = {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": base64.b64encode(b'{"a": 1}').decode(),
    }
    r = await web.post("/codec/encode", json={"payloads": [payload]})  # loopback, dev
    assert r.status_code == 200
    encoded = r.json()["payloads"][0]
    assert base64.b64decode(encoded["metadata"]["encoding"]) == b"binary/encrypted"
    r = await web.post("/codec/decode", json={"payloads": [encoded]})
    assert r.json()["payloads"][0] == payload
    fault(await web.post("/codec/decode", content=b"nope"), 400, "payloads")
    damaged = {**encoded, "data": base64.b64encode(b"0" * 40).decode()}
    fault(await web.post("/codec/decode", json={"payloads": [damaged]}), 400, "payloads")

    # CORS: only the Temporal Web UI's origin.
    origin = worker.temporal_ui_url
    pre = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    r = await web.options("/codec/decode", headers=pre)
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == origin
    r = await web.options("/codec/decode", headers={**pre, "Origin": "https://evil.example"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    r = await web.post(
        "/api/session", json={"username": "x", "password": "y"}, headers={"Origin": origin}
    )
    assert "access-control-allow-origin" not in r.headers  # the rest of the app: no CORS


async def test_codec_needs_staff_off_loopback(env, worker, staff_users):
    import httpx

    from web.app import create_app
    from web.config import WebSettings

    app = create_app(worker, env.client, web_settings=WebSettings(_env_file=None, dev=False))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="https://x") as c:
        fault(await c.post("/codec/decode", json={"payloads": []}), 401, None)
        auth = await bearer(c, "appr1")
        assert (
            await c.post("/codec/decode", json={"payloads": []}, headers=auth)
        ).status_code == 200


async def test_docs_are_served_locally_and_list_every_action(web):
    docs = (await web.get("/docs")).text
    assert "/static/docs/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert (await web.get("/static/docs/swagger-ui-bundle.js")).status_code == 200
    paths = (await web.get("/openapi.json")).json()["paths"]
    for p in (
        "/api/c/{token}/wizard",
        "/api/tickets/{ticket_id}/approve",
        "/api/order-groups/assign",
        "/api/batches",
    ):
        assert p in paths
    r = await web.get("/c/x")
    assert (
        r.headers["referrer-policy"] == "no-referrer" and "no-store" in r.headers["cache-control"]
    )
