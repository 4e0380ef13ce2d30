"""Payloads are encrypted on the wire and at rest in Temporal; keys rotate by id."""

from __future__ import annotations

import base64
import os

import pytest
from temporalio.api.common.v1 import Payload

from operations.payload_codec import ENCODING, EncryptionCodec, parse_keys
from tests.workflows.helpers import start, ticket_input, until


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def test_rotated_keys_still_decrypt_old_payloads():
    old = parse_keys(f"k1:{key()}")
    new = {**parse_keys(f"k2:{key()}"), **old}
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"password": "hunter2"}')
    [sealed] = await EncryptionCodec(old).encode([plain])
    assert sealed.metadata["encryption-key-id"] == b"k1" and b"hunter2" not in sealed.data
    assert await EncryptionCodec(new).decode([sealed]) == [plain]
    with pytest.raises(ValueError, match="unknown key id 'k1'"):
        await EncryptionCodec(parse_keys(f"k3:{key()}")).decode([sealed])


def test_bad_key_specs_are_refused_without_echoing_the_key():
    with pytest.raises(ValueError) as bad:
        parse_keys("k1:" + base64.b64encode(b"short").decode())
    assert "c2hvcnQ" not in str(bad.value)


async def test_ticket_history_holds_no_customer_data_in_clear(env, worker):
    inp = ticket_input("remote", "med-remote")
    handle = await start(env, worker, inp)
    await until(handle, lambda s: s.setup_done, "setup")
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [payload] = started.input.payloads
    assert payload.metadata["encoding"] == ENCODING
    raw = history.to_json()
    assert "jdoe@example.edu" not in raw and "Jane Doe" not in raw
