"""The TDX stand-in and the real TDX client, over loopback HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import aiosmtplib
import httpx
import pytest

from activities.tdx_client import TdxClient, TdxError, TdxNotFound, TdxRateLimited
from sim.app import SimServer
from sim.tdx import STATUS_CLOSED, STATUS_IN_PROCESS, STATUS_NEW
from tests.sim_settings import settings_for

BASE_TICKET = {"TypeID": 10, "AccountID": 20, "StatusID": STATUS_NEW, "PriorityID": 3}


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_state(sim: SimServer, tdx_windows_forgotten: None) -> None:
    sim.tdx.reset()
    sim.tdx.configure_limits(window_seconds=60, limit=1000, create_limit=1000)


@pytest.fixture
async def tdx(sim: SimServer) -> AsyncIterator[TdxClient]:
    client = TdxClient.from_settings(settings_for(sim), timeout=2.0, min_retry_after=timedelta(0))
    async with client:
        yield client


@pytest.fixture
async def http(sim: SimServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.http_url) as client:
        yield client


async def login(http: httpx.AsyncClient, sim: SimServer) -> dict[str, str]:
    settings = settings_for(sim)
    response = await http.post(
        "/TDWebApi/api/auth/loginadmin",
        json={
            "BEID": settings.tdx_beid,
            "WebServicesKey": settings.tdx_web_services_key.get_secret_value(),
        },
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.text}"}


def logins(sim: SimServer) -> int:
    return sum(1 for call in sim.tdx.calls if call.path.endswith("/auth/loginadmin"))


async def test_login_issues_a_24h_jwt_and_everything_else_needs_it(
    sim: SimServer, http: httpx.AsyncClient
) -> None:
    assert (await http.get("/TDWebApi/api/46/tickets/1")).status_code == 401
    wrong = await http.post(
        "/TDWebApi/api/auth/loginadmin",
        json={"BEID": settings_for(sim).tdx_beid, "WebServicesKey": "x"},
    )
    assert wrong.status_code == 401

    headers = await login(http, sim)
    token = headers["Authorization"].removeprefix("Bearer ")
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    lifetime = datetime.fromtimestamp(claims["exp"], UTC) - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < lifetime <= timedelta(hours=24)

    bad = await http.get("/TDWebApi/api/people/x", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    missing = await http.get("/TDWebApi/api/people/x", headers=headers)
    assert missing.status_code == 404
    assert missing.json() == {"Message": "Person x was not found."}


async def test_client_logs_in_lazily_once_and_again_after_a_401(
    sim: SimServer, tdx: TdxClient
) -> None:
    person = sim.tdx.add_person("ajones", FirstName="Alex", LastName="Jones")
    assert logins(sim) == 0

    assert (await tdx.get_person(person["UID"]))["FullName"] == "Alex Jones"
    await tdx.get_person(person["UID"])
    assert logins(sim) == 1

    sim.tdx.revoke_tokens()
    assert (await tdx.get_person(person["UID"]))["UserName"] == "ajones"
    assert logins(sim) == 2
    assert [call.status for call in sim.tdx.calls][-3:] == [401, 200, 200]


async def test_bad_key_surfaces_as_tdx_error(sim: SimServer) -> None:
    settings = settings_for(sim).model_copy(update={"tdx_web_services_key": "wrong"})
    async with TdxClient.from_settings(settings) as client:
        with pytest.raises(TdxError) as caught:
            await client.get_ticket(1)
    assert caught.value.status == 401
    assert "wrong" not in str(caught.value)


async def test_ticket_create_get_search_edit_patch_and_feed(sim: SimServer, tdx: TdxClient) -> None:
    requestor = sim.tdx.add_person("bsmith")
    created = await tdx.create_ticket(
        BASE_TICKET
        | {
            "Title": "Computer refresh for bsmith",
            "Description": "Serial ABC123",
            "RequestorUid": requestor["UID"],
            "Attributes": [{"ID": 501, "Value": "on_prem"}],
        }
    )
    ticket_id = created["ID"]
    assert created["StatusClass"] == 1  # New
    assert created["RequestorEmail"] == "bsmith@example.edu"
    assert (await tdx.get_ticket(ticket_id))["Title"] == "Computer refresh for bsmith"

    await tdx.create_ticket(BASE_TICKET | {"Title": "Something else"})
    found = await tdx.search_tickets("abc123")
    assert [ticket["ID"] for ticket in found] == [ticket_id]

    full = await tdx.get_ticket(ticket_id)
    edited = await tdx.edit_ticket(ticket_id, full | {"StatusID": STATUS_IN_PROCESS})
    assert (edited["StatusName"], edited["StatusClass"]) == ("In Process", 2)

    patched = await tdx.patch_ticket(
        ticket_id,
        [
            {"op": "add", "path": "/title", "value": "Refresh: bsmith"},
            {"op": "replace", "path": "/attributes/502", "value": "2026-03-02"},
            {"op": "remove", "path": "/attributes/501"},
        ],
    )
    assert patched["Title"] == "Refresh: bsmith"
    assert [(a["ID"], a["Value"]) for a in patched["Attributes"]] == [(502, "2026-03-02")]
    with pytest.raises(TdxError) as caught:
        await tdx.patch_ticket(ticket_id, [{"op": "add", "path": "/NoSuchField", "value": 1}])
    assert caught.value.status == 400

    entry = await tdx.add_ticket_feed(ticket_id, "Installed.", new_status_id=STATUS_CLOSED)
    assert (entry["Body"], entry["UpdateType"]) == ("Installed.", "StatusChange")
    closed = await tdx.get_ticket(ticket_id)
    assert (closed["StatusName"], closed["StatusClass"]) == ("Closed", 3)
    assert closed["CompletedDate"] is not None
    assert sim.tdx.feed[ticket_id][-1]["Body"] == "Installed."

    with pytest.raises(TdxNotFound):
        await tdx.get_ticket(999)
    with pytest.raises(TdxError) as caught:
        await tdx.create_ticket({"Title": "no type"})
    assert caught.value.status == 400


async def test_tasks_update_and_complete(
    sim: SimServer, tdx: TdxClient, http: httpx.AsyncClient
) -> None:
    ticket = await tdx.create_ticket(BASE_TICKET | {"Title": "Refresh"})
    build = await tdx.create_task(ticket["ID"], {"Title": "Build", "EstimatedMinutes": 60})
    deliver = await tdx.create_task(ticket["ID"], {"Title": "Deliver"})
    assert [t["Title"] for t in await tdx.list_tasks(ticket["ID"])] == ["Build", "Deliver"]

    day1 = "2026-03-02T09:00:00Z"
    task = await tdx.get_task(ticket["ID"], deliver["ID"])
    updated = await tdx.update_task(ticket["ID"], deliver["ID"], task | {"StartDate": day1})
    assert updated["StartDate"] == day1

    await tdx.complete_task(ticket["ID"], build["ID"])
    done = await tdx.get_task(ticket["ID"], build["ID"])
    assert done["PercentComplete"] == 100
    assert done["CompletedDate"] is not None

    # A technician finishes the other task in TDX, and later closes the ticket.
    url = f"/_sim/tdx/tickets/{ticket['ID']}/tasks/{deliver['ID']}/complete"
    assert (await http.post(url)).status_code == 200
    assert (await tdx.get_task(ticket["ID"], deliver["ID"]))["PercentComplete"] == 100
    sim.tdx.close_ticket(ticket["ID"])
    assert (await tdx.get_ticket(ticket["ID"]))["StatusClass"] == 3


async def test_asset_search_people_and_locations(
    sim: SimServer, tdx: TdxClient, http: httpx.AsyncClient
) -> None:
    owner = sim.tdx.add_person("cdoe", FirstName="Casey", LastName="Doe")
    building = sim.tdx.add_location("North Hall", Rooms=["101"])
    sim.tdx.add_asset(
        "5CG1234XYZ",
        OwningCustomerID=owner["UID"],
        LocationID=building["ID"],
        LocationRoomName="101",
        SupportingDepartmentName="NIT Desktop Support",
    )
    seeded = await http.post("/_sim/tdx/assets", json={"SerialNumber": "5CG1234XYZ-2"})
    assert seeded.status_code == 200

    (asset,) = await tdx.search_assets_by_serial("5cg1234xyz")
    assert asset["OwningCustomerName"] == "Casey Doe"
    assert asset["LocationName"] == "North Hall"
    assert asset["SupportingDepartmentName"] == "NIT Desktop Support"
    assert len(await tdx.search_assets_by_serial("5CG1234XYZ", exact=False)) == 2
    assert await tdx.search_assets_by_serial("NOPE") == []

    assert (await tdx.get_asset(asset["ID"]))["SerialNumber"] == "5CG1234XYZ"
    assert (await tdx.get_person(owner["UID"]))["PrimaryEmail"] == "cdoe@example.edu"
    assert (await tdx.get_location(building["ID"]))["Rooms"][0]["Name"] == "101"
    with pytest.raises(TdxNotFound):
        await tdx.get_location(1)


async def test_rate_limit_per_method_with_headers_and_reset(
    sim: SimServer, tdx: TdxClient, http: httpx.AsyncClient
) -> None:
    sim.tdx.configure_limits(window_seconds=5, limit=3)
    headers = await login(http, sim)
    url = "/TDWebApi/api/46/tickets/1"
    answers = [await http.get(url, headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"3"}
    stamp = answers[-1].headers["X-RateLimit-Reset"]
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", stamp)
    reset = parsedate_to_datetime(stamp)
    assert (
        datetime.now(UTC) + timedelta(seconds=4) < reset <= datetime.now(UTC) + timedelta(seconds=6)
    )

    # Ticket creation has its own, lower limit; the client reports when its window resets.
    # (Another caller on this address used the window, so the client's 429 is TDX's own.)
    sim.tdx.configure_limits(window_seconds=0.5, create_limit=1)
    await http.post(
        "/TDWebApi/api/46/tickets", json=BASE_TICKET | {"Title": "other"}, headers=headers
    )
    with pytest.raises(TdxRateLimited) as caught:
        await tdx.create_ticket(BASE_TICKET | {"Title": "first"})
    limited = caught.value
    assert limited.status == 429
    assert timedelta(0) < limited.retry_after <= timedelta(seconds=1.5)
    assert limited.reset_at - datetime.now(UTC) <= limited.retry_after
    # Other methods are limited separately.
    assert (await tdx.search_tickets("other"))[0]["Title"] == "other"

    # Having seen the window full, the client holds the next create until it resets.
    assert (await tdx.create_ticket(BASE_TICKET | {"Title": "second"}))["Title"] == "second"
    creates = [c.status for c in sim.tdx.calls if c.method == "POST" and c.path.endswith("tickets")]
    assert creates == [200, 429, 200]


async def test_min_retry_after_guards_against_clock_skew(sim: SimServer) -> None:
    sim.tdx.fail("GET", r"/people/", 429, reset_after=0.1)
    async with TdxClient.from_settings(settings_for(sim)) as client:
        with pytest.raises(TdxRateLimited) as caught:
            await client.get_person("x")
    assert caught.value.retry_after == timedelta(seconds=5)


async def test_injected_faults_500_429_and_timeout(
    sim: SimServer, tdx: TdxClient, http: httpx.AsyncClient
) -> None:
    ticket = await tdx.create_ticket(BASE_TICKET | {"Title": "t"})
    path = rf"/tickets/{ticket['ID']}$"

    sim.tdx.fail("GET", path, 500)
    with pytest.raises(TdxError) as caught:
        await tdx.get_ticket(ticket["ID"])
    assert caught.value.status == 500
    assert (await tdx.get_ticket(ticket["ID"]))["ID"] == ticket["ID"]

    sim.tdx.fail("GET", path, 429, reset_after=7)
    with pytest.raises(TdxRateLimited) as limited:
        await tdx.get_ticket(ticket["ID"])
    assert timedelta(seconds=6) < limited.value.retry_after <= timedelta(seconds=8)

    rule = {"method": "post", "path": r"/tickets$", "status": "timeout", "delay": 0.5}
    assert (await http.post("/_sim/tdx/faults", json=rule)).status_code == 200
    async with TdxClient.from_settings(settings_for(sim), timeout=0.2) as impatient:
        await impatient.get_ticket(ticket["ID"])  # logs in first, outside the fault
        with pytest.raises(httpx.TimeoutException):
            await impatient.create_ticket(BASE_TICKET | {"Title": "slow"})
    # The slow call still did its work, as a real server would: a retry must find it.
    await asyncio.sleep(0.4)
    assert [t["Title"] for t in await tdx.search_tickets("slow")] == ["slow"]
    assert sim.tdx.faults == []


async def test_call_log_faults_api_and_reset(
    sim: SimServer, tdx: TdxClient, http: httpx.AsyncClient
) -> None:
    sim.tdx.fail("*", ".*", 503, count=None)
    with pytest.raises(TdxError):
        await tdx.get_ticket(1)
    assert (await http.delete("/_sim/tdx/faults")).status_code == 204

    calls = (await http.get("/_sim/tdx/calls")).json()
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("POST", "/TDWebApi/api/auth/loginadmin", 503)
    ]
    assert calls[0]["route"] == "/TDWebApi/api/auth/loginadmin"

    await tdx.create_ticket(BASE_TICKET | {"Title": "t"})
    listed = (await http.get("/_sim/tdx/tickets")).json()
    assert [(t["Title"], t["Tasks"], t["Feed"]) for t in listed] == [("t", [], [])]
    assert (await http.post("/_sim/tdx/reset")).status_code == 204
    assert sim.tdx.tickets == {}
    assert sim.tdx.calls == []


async def test_a_fault_left_unused_ends_with_the_test_that_set_it(
    sim: SimServer, tdx: TdxClient
) -> None:
    """The stand-ins are shared by the session: `clear_faults` (run after every test that used
    them) drops what a test injected but never used up, in every stand-in, and keeps data."""
    ticket = await tdx.create_ticket(BASE_TICKET | {"Title": "kept"})
    sim.tdx.fail("GET", rf"/tickets/{ticket['ID']}$", 500, count=None)
    sim.halo.fail(method="*", path=".*", status=500, count=None)
    sim.mail.fail_next(3)
    sim.clear_faults()
    assert (await tdx.get_ticket(ticket["ID"]))["Title"] == "kept"
    assert (sim.tdx.faults, sim.halo.faults.rules) == ([], [])
    note = EmailMessage()
    note["From"], note["To"], note["Subject"] = "a@example.edu", "b@example.edu", "after faults"
    note.set_content("delivered")
    await aiosmtplib.send(note, hostname=sim.smtp_host, port=sim.smtp_port, timeout=5)
    assert sim.mail.messages[-1].subject == "after faults"
