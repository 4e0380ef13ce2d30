"""Payloads are encrypted on the wire and at rest in Temporal; keys rotate by id."""

from __future__ import annotations

import base64
import json
import os
import zlib
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from domain.messages import UNREADABLE_ENCODING
from operations import payload_codec
from operations.payload_codec import ENCODING, ZLIB_ENCODING, EncryptionCodec, parse_keys
from operations.temporal_client import data_converter
from tests.workflows.helpers import start, ticket_input, until


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def test_rotated_keys_still_decrypt_old_payloads(settings):
    old = parse_keys(f"k1:{key()}")
    new = {**parse_keys(f"k2:{key()}"), **old}
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"password": "hunter2"}')
    [sealed] = await EncryptionCodec(old).encode([plain])
    assert set(sealed.metadata) == {"encoding"} and sealed.data[:4] == b"\x02\x02k1"
    assert b"hunter2" not in sealed.data
    assert await EncryptionCodec(new).decode([sealed]) == [plain]
    # A key this process lacks is one unreadable payload, never an exception (which would
    # fail a whole workflow task): the converter refuses it, the workflow names the reason.
    [unreadable] = await EncryptionCodec(parse_keys(f"k3:{key()}")).decode([sealed])
    assert unreadable.metadata["encoding"] == UNREADABLE_ENCODING
    assert unreadable.data == b"unknown key id 'k1'"
    with pytest.raises(KeyError, match="binary/undecryptable"):
        data_converter(settings).payload_converter.from_payload(unreadable)


@pytest.mark.parametrize(
    ("metadata", "data", "reason"),
    [
        ({"encryption-key-id": b"k1"}, os.urandom(40), b"not encrypted with key 'k1', or altered"),
        ({"encryption-key-id": b"k1"}, b"short", b"not encrypted with key 'k1', or altered"),
        ({}, b"\0" + os.urandom(40), b"no encryption key id"),
        ({}, b"\x02", b"no encryption key id"),
        ({"encryption-key-id": b"k" * 1000}, b"", b"unknown key id '" + b"k" * 40 + b"'"),
        ({}, b"\x02\x02k9" + os.urandom(40), b"unknown key id 'k9'"),
        ({}, b"\x02\x02k1" + os.urandom(40), b"not encrypted with key 'k1', or altered"),
        ({}, b"\x02\x02k1" + os.urandom(5), b"not encrypted with key 'k1', or altered"),
        ({}, b"\x02\xffk1", b"no encryption key id"),
    ],
    ids=[
        "random-bytes",
        "truncated",
        "no-key-id",
        "only-the-envelope",
        "huge-key-id",
        "unknown-key",
        "random-ciphertext",
        "short-ciphertext",
        "key-id-past-the-end",
    ],
)
async def test_undecryptable_payloads_decode_to_an_unreadable_marker(metadata, data, reason):
    codec = EncryptionCodec(parse_keys(f"k1:{key()}"))
    bad = Payload(metadata={"encoding": ENCODING, **metadata}, data=data)
    [out] = await codec.decode([bad])
    assert (out.metadata["encoding"], out.data) == (UNREADABLE_ENCODING, reason)
    # The web app's codec endpoint (for the Web UI) answers an error instead.
    strict = EncryptionCodec(parse_keys(f"k1:{key()}"), strict=True)
    with pytest.raises(ValueError, match="payload cannot be decrypted"):
        await strict.decode([bad])


async def test_large_payloads_are_deflated_before_encryption_and_read_back():
    codec = EncryptionCodec(parse_keys(f"k1:{key()}"))
    state = {"audits": [{"seq": i, "actor": "system", "action": "status"} for i in range(40)]}
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(state).encode())
    [sealed] = await codec.encode([plain])
    assert len(sealed.data) < len(plain.data) / 3
    assert set(sealed.metadata) == {"encoding"}  # the key id is inside the data
    assert await codec.decode([sealed]) == [plain]
    # So are the key id and the packing (release 2): a JSON payload is sealed as its bytes
    # and a few more (key id, nonce, tag, a flag), not with metadata and wrapper payloads.
    [small] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    assert len(small.data) == len(b"\x02\x02k1") + 12 + 16 + 1 + 1
    other = Payload(metadata={"encoding": b"binary/plain", "x": b"y"}, data=b"1" * 500)
    assert await codec.decode(await codec.encode([other])) == [other]
    # A payload sealed before compression existed still reads.
    nonce = os.urandom(12)
    cipher = codec._ciphers["k1"]
    legacy = Payload(
        metadata={"encoding": ENCODING, "encryption-key-id": b"k1"},
        data=nonce + cipher.encrypt(nonce, plain.SerializeToString(), None),
    )
    assert await codec.decode([legacy]) == [plain]
    # None carries nothing to hide: it stays a bare `binary/null`.
    none = Payload(metadata={"encoding": b"binary/null"})
    assert await codec.encode([none]) == [none] == await codec.decode([none])


DICTIONARY = Path(payload_codec.__file__).with_name("payload_dictionary_1.txt").read_bytes()
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}').SerializeToString()


def _deflated_with(dictionary: bytes, data: bytes) -> bytes:
    deflate = zlib.compressobj(zdict=dictionary)
    return deflate.compress(data) + deflate.flush()


@pytest.mark.parametrize(
    ("inner", "dictionary", "reason"),
    [
        (b"not deflate at all", b"1", b"compressed payload is corrupt"),
        (
            _deflated_with(DICTIONARY, b"\0" * (5 * 1024 * 1024)),
            b"1",
            b"compressed payload is truncated or too large",
        ),
        (
            _deflated_with(DICTIONARY, b"\xff\xfe not a payload"),
            b"1",
            b"compressed payload is corrupt",
        ),
        (_deflated_with(b"another dictionary", PLAIN), b"1", b"compressed payload is corrupt"),
        (zlib.compress(b"x"), b"99", b"unknown compression dictionary '99'"),
    ],
    ids=["corrupt", "bomb", "not-a-payload", "wrong-dictionary", "unknown-dictionary"],
)
async def test_a_bad_compressed_payload_is_unreadable_not_an_exception(inner, dictionary, reason):
    codec = EncryptionCodec(parse_keys(f"k1:{key()}"))
    wrapper = Payload(metadata={"encoding": ZLIB_ENCODING + dictionary}, data=inner)
    nonce = os.urandom(12)
    sealed = Payload(
        metadata={"encoding": ENCODING, "encryption-key-id": b"k1"},
        data=nonce + codec._ciphers["k1"].encrypt(nonce, wrapper.SerializeToString(), None),
    )
    [out] = await codec.decode([sealed])
    assert (out.metadata["encoding"], out.data) == (UNREADABLE_ENCODING, reason)


@pytest.mark.parametrize(
    ("plain", "reason"),
    [
        (b"\x03" + b"1" + b"not deflate at all", b"compressed payload is corrupt"),
        (
            b"\x03" + b"1" + _deflated_with(DICTIONARY, b"\0" * (5 * 1024 * 1024)),
            b"compressed payload is truncated or too large",
        ),
        (b"\x01" + b"1" + _deflated_with(DICTIONARY, b"\xff\xfe"), b"payload is corrupt"),
        (b"\x03" + b"9" + zlib.compress(b"x"), b"unknown compression dictionary '9'"),
        (b"\x00\xff\xfe not a payload", b"payload is corrupt"),
        (b"\x07{}", b"unknown payload packing"),
        (b"", b"unknown payload packing"),
    ],
    ids=[
        "corrupt",
        "bomb",
        "not-a-payload",
        "unknown-dictionary",
        "stored-garbage",
        "flag",
        "empty",
    ],
)
async def test_a_bad_release_2_plaintext_is_unreadable_not_an_exception(plain, reason):
    codec = EncryptionCodec(parse_keys(f"k1:{key()}"))
    header, nonce = b"\x02\x02k1", os.urandom(12)
    data = header + nonce + codec._ciphers["k1"].encrypt(nonce, plain, header)
    [out] = await codec.decode([Payload(metadata={"encoding": ENCODING}, data=data)])
    assert (out.metadata["encoding"], out.data) == (UNREADABLE_ENCODING, reason)


def test_bad_key_specs_are_refused_without_echoing_the_key():
    with pytest.raises(ValueError) as bad:
        parse_keys("k1:" + base64.b64encode(b"short").decode())
    assert "c2hvcnQ" not in str(bad.value)
    secret = key()
    with pytest.raises(ValueError, match="at most 64 bytes") as long_id:
        EncryptionCodec(parse_keys(f"{'k' * 65}:{secret}"))
    assert secret not in str(long_id.value)


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
