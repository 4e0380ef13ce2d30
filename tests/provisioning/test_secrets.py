"""The Exhibit A passwords: encrypted in Temporal payloads and at rest, shown only by the
audited reveal, erased at close, and found nowhere else (history, database, logs, emails,
Slack, Halo notes, error messages, the `state` query)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest

from domain.provisioning import ExhibitA, ExhibitDraft, validate_exhibit
from domain.settings import Settings
from operations.payload_codec import EncryptionCodec
from store import provisioning as prov_store
from store.db import make_engine, session_factory
from store.secret_box import SecretBox, SecretUnreadable, parse_keys
from store.tables import Base, ProvisioningSecret
from tests.itsm.helpers import local, move_to
from tests.provisioning.helpers import (
    ALEX,
    CASEY,
    CAT_8B,
    DOMAIN_PASSWORD,
    M365_PASSWORD,
    PI,
    exhibit,
    handle,
    notes,
    refused,
    update,
    wait_state,
)
from tests.provisioning.test_scenarios import secrets_rows

SECRETS = (DOMAIN_PASSWORD.encode(), M365_PASSWORD.encode())


def dump(url: str) -> bytes:
    """Every row of every table, as text and raw bytes (SQLite or PostgreSQL alike)."""
    out = []
    with make_engine(url).connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for value in row:
                    out.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(out)


def _leaks(blob: bytes) -> list[bytes]:
    return [s for s in SECRETS if s in blob]


async def test_passwords_are_nowhere_in_the_clear(env, halo, sim, settings, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Laptop for Dana", category_1=CAT_8B)
    tid = t["id"]
    h = handle(env, tid)
    await wait_state(h, lambda s: s.status is not None, "intake")
    await update(
        h,
        "assign",
        {"by": CASEY.model_dump(), "analyst": "alex", "analyst_email": "alex.analyst@example.org"},
    )
    # Refusals name the field, never echo a value (even a password typed in the wrong box).
    errors = [
        await refused(
            h,
            "submit_details",
            {"by": ALEX.model_dump(), "details": exhibit(serial_number=DOMAIN_PASSWORD)},
        ),
        await refused(
            h,
            "submit_details",
            {"by": ALEX.model_dump(), "details": exhibit(inventory_type=M365_PASSWORD)},
        ),
        await refused(
            h,
            "submit_details",
            {"by": ALEX.model_dump(), "details": DOMAIN_PASSWORD + M365_PASSWORD},
        ),
        await refused(
            h, "submit_details", {"by": CASEY.model_dump() | {"roles": []}, "details": exhibit()}
        ),
    ]
    assert "serial_number" in errors[0] and "inventory_type" in errors[1]
    assert "details" in errors[2] and "by.roles" in errors[3]
    for message in errors:
        assert not _leaks(message.encode()), message
    await update(h, "submit_details", {"by": ALEX.model_dump(), "details": exhibit()})
    assert not _leaks((await h.query("state")).__repr__().encode())

    # At rest: two encrypted rows with a key id; only the audited reveal opens them.
    rows = secrets_rows(settings, tid)
    assert {r.key_id for r in rows} == {"dev"} and all(not _leaks(r.ciphertext) for r in rows)
    sessions = session_factory(make_engine(settings.database_url))
    box = SecretBox.from_settings(settings)
    with sessions.begin() as db:
        assert prov_store.reveal(db, box, str(tid), "domain_password", "alex") == DOMAIN_PASSWORD
    with sessions() as db:
        audits = prov_store.reveal_audits(db, str(tid))
        assert [(a.actor, a.action, a.detail) for a in audits] == [
            ("alex", "password revealed", {"field": "domain_password"})
        ]
    everything = dump(settings.database_url)
    assert b"Dana Scully" in everything, "the dump reads the provisioning rows"
    assert not _leaks(everything)

    sim.halo.log_time(tid, 2, PI, agent="Alex Analyst")
    await wait_state(h, lambda s: len(s.time) == 1, "time")
    await update(h, "request_close", {"by": ALEX.model_dump()})
    assert secrets_rows(settings, tid) == []
    with sessions.begin() as db:
        assert prov_store.reveal(db, box, str(tid), "m365_password", "alex") is None

    # The whole history as the server stores it (no codec), and every other trace.
    raw = await env.client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=env.client.namespace,
            execution={"workflow_id": h.id},
            maximum_page_size=10_000,
        )
    )
    assert len(raw.history.events) > 20
    assert not _leaks(raw.SerializeToString())
    # Through the codec they are there: the update's payload carried them, encrypted.
    codec = EncryptionCodec.from_settings(settings)
    carried = []
    for event in raw.history.events:
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            attrs = event.workflow_execution_update_accepted_event_attributes
            payloads = attrs.accepted_request.input.args.payloads
            assert all(p.metadata["encoding"] == b"binary/encrypted" for p in payloads)
            carried += [p.data for p in await codec.decode(list(payloads))]
    assert any(DOMAIN_PASSWORD.encode() in d and M365_PASSWORD.encode() in d for d in carried)
    for message in sim.mail.find(ticket=f"provisioning-{tid}"):
        assert not _leaks(f"{message.subject}{message.text}{message.html}".encode())
    assert not _leaks("".join(m.text for m in sim.slack.messages).encode())
    assert not _leaks("".join(notes(sim, tid)).encode())
    out, err = capfd.readouterr()
    assert not _leaks((caplog.text + out + err).encode())


def test_key_rotation_reencrypts_and_old_keys_still_read(settings: Settings, db_url: str):
    old = SecretBox(parse_keys("k1:" + "A" * 43 + "="))
    new = SecretBox(parse_keys("k2:" + "B" * 43 + "=,k1:" + "A" * 43 + "="))
    exhibit_a = validate_exhibit(
        ExhibitDraft(**exhibit(by_when="2099-01-05")), _calendar(), local(2026, 12, 7, 9)
    )
    assert isinstance(exhibit_a, ExhibitA)
    sessions = session_factory(make_engine(db_url))
    with sessions.begin() as db:
        prov_store.save_secrets(db, old, "rot-1", exhibit_a)
    with sessions.begin() as db:
        assert prov_store.reveal(db, new, "rot-1", "domain_password", "t") == DOMAIN_PASSWORD
        assert prov_store.rotate(db, new) == 2
        assert prov_store.rotate(db, new) == 0
    with sessions.begin() as db:
        rows = db.scalars(
            select(ProvisioningSecret).where(ProvisioningSecret.halo_ticket_id == "rot-1")
        ).all()
        assert {r.key_id for r in rows} == {"k2"}
        with pytest.raises(SecretUnreadable):
            prov_store.reveal(db, old, "rot-1", "m365_password", "t")
        # A ciphertext moved to another row does not decrypt (bound to ticket and field).
        rows[0].halo_ticket_id = "rot-2"
        db.flush()
        with pytest.raises(SecretUnreadable):
            prov_store.reveal(db, new, "rot-2", rows[0].field, "t")
        prov_store.erase_secrets(db, "rot-1")
        prov_store.erase_secrets(db, "rot-2")


def _calendar():
    from domain.business_calendar import BusinessCalendar

    return BusinessCalendar(timezone="America/Detroit")
