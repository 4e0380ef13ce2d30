"""The SMTP stand-in and its mailbox, with aiosmtplib as the sender."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest

from sim.app import SimServer


@pytest.fixture(scope="module")
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_state(sim: SimServer) -> None:
    sim.mail.clear()


@pytest.fixture
async def http(sim: SimServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sim.http_url) as client:
        yield client


def email_for(
    to: str, ticket: str, template: str, subject: str = "Your new computer"
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "deskflow@example.edu"
    message["To"] = to
    message["Subject"] = subject
    message["X-Deskflow-Ticket"] = ticket
    message["X-Deskflow-Template"] = template
    message.set_content("Pick your options.")
    message.add_alternative("<p>Pick <b>your</b> options.</p>", subtype="html")
    return message


async def send(sim: SimServer, message: EmailMessage) -> None:
    await aiosmtplib.send(message, hostname=sim.smtp_host, port=sim.smtp_port, timeout=2)


async def test_messages_are_parsed_and_listed(sim: SimServer, http: httpx.AsyncClient) -> None:
    invite = email_for("Pat Lee <plee@example.edu>", "T-1", "invite", "Refresh <soon> & more")
    invite.add_attachment(b"BEGIN:VCALENDAR", maintype="text", subtype="calendar", filename="d.ics")
    await send(sim, invite)
    await send(sim, email_for("kim@example.edu", "T-2", "wizard_reminder"))

    (first,) = sim.mail.find(ticket="T-1")
    assert (first.envelope_from, first.envelope_to) == (
        "deskflow@example.edu",
        ["plee@example.edu"],
    )
    assert (first.to, first.template, first.subject) == (
        ["plee@example.edu"],
        "invite",
        "Refresh <soon> & more",
    )
    assert first.text is not None and "Pick your options." in first.text
    assert first.html is not None and "<b>your</b>" in first.html
    assert [(a.filename, a.content_type) for a in first.attachments] == [("d.ics", "text/calendar")]

    everything = (await http.get("/mailbox/api/messages")).json()
    assert [m["ticket"] for m in everything] == ["T-2", "T-1"]  # newest first
    by_to = (await http.get("/mailbox/api/messages", params={"to": "PLEE@example.edu"})).json()
    assert [m["id"] for m in by_to] == [first.id]
    by_template = await http.get("/mailbox/api/messages", params={"template": "wizard_reminder"})
    assert [m["to"] for m in by_template.json()] == [["kim@example.edu"]]
    assert (await http.get("/mailbox/api/messages", params={"ticket": "T-9"})).json() == []
    one = (await http.get(f"/mailbox/api/messages/{first.id}")).json()
    assert one["attachments"] == [
        {"filename": "d.ics", "content_type": "text/calendar", "size": 15}
    ]

    page = (await http.get("/mailbox")).text
    assert "Refresh &lt;soon&gt; &amp; more" in page
    assert page.index("T-2") < page.index("T-1")
    view = (await http.get(f"/mailbox/{first.id}")).text
    assert "X-Deskflow-Template" in view and "d.ics" in view and "srcdoc=" in view
    assert (await http.get("/mailbox/999")).status_code == 404

    assert (await http.delete("/mailbox/api/messages")).status_code == 204
    assert sim.mail.messages == []


async def test_refusals_451_then_554_then_delivery(sim: SimServer, http: httpx.AsyncClient) -> None:
    sim.mail.fail_next(1, 451)
    with pytest.raises(aiosmtplib.SMTPResponseException) as temporary:
        await send(sim, email_for("a@example.edu", "T-3", "tracking"))
    assert temporary.value.code == 451

    refusal = {"count": 1, "code": 554}
    assert (await http.post("/_sim/smtp/refusals", json=refusal)).status_code == 204
    with pytest.raises(aiosmtplib.SMTPResponseException) as permanent:
        await send(sim, email_for("a@example.edu", "T-3", "tracking"))
    assert permanent.value.code == 554
    assert sim.mail.messages == []

    await send(sim, email_for("a@example.edu", "T-3", "tracking"))
    assert [m.template for m in sim.mail.find(to="a@example.edu")] == ["tracking"]


async def test_login_is_accepted_without_tls(sim: SimServer) -> None:
    await aiosmtplib.send(
        email_for("b@example.edu", "T-4", "invite"),
        hostname=sim.smtp_host,
        port=sim.smtp_port,
        username="deskflow",
        password="anything",
        start_tls=False,
        timeout=2,
    )
    assert len(sim.mail.find(ticket="T-4")) == 1
