"""AES-GCM payload codec: every payload deskflow sends to Temporal is encrypted (but None).

Customer names, addresses and (for provisioning) passwords never reach the Temporal
server in the clear; the Web UI shows them only through the codec endpoint of the web
app. Each payload names the key that encrypted it, so keys can be rotated: the first key
in `DESKFLOW_CODEC_KEYS` encrypts, all listed keys decrypt. Rotate in two deploys: first add
the new key *second* everywhere (every process can read it), then move it first.

A payload that zlib shrinks is compressed before it is encrypted (compressed data does not
shrink once encrypted): the encrypted payload then wraps a `zlib/<dictionary>` payload
whose data is the original payload, deflated. The wrapper lives inside the ciphertext, so the
outside reads as before and payloads written before compression still decrypt. Ticket
state is repetitive JSON: this takes about a tenth off a ticket's history (its payloads
shrink by half or more), and the smaller ciphertext costs less to encrypt, store and send
than the deflate costs. A None (`binary/null`, no data) is left as it is: there is nothing
in it to hide. A release from before compression cannot read a compressed payload (it sees
an encoding no converter reads): deploy every process at once, and do not roll back past it.

Since release 2 the key id and the deflate flag travel inside the payload's data, not as
metadata and protobuf wrappers: `data` = 0x02, the key id's length and the key id (also the
cipher's associated data), the nonce, then the ciphertext of a flag byte and the payload
(`packed`: plain JSON as its bytes alone, any other payload serialized; deflated when
smaller). Every payload is in a ticket's history, and the metadata entry and the wrapper
cost more than the payload's own JSON for most of them (about 2 kB of one lifecycle's
history). Payloads of release 1 (key id in metadata, `zlib/<dictionary>` wrapper inside)
still decrypt; release 1 cannot read release 2's, so deploy every process at once, as for
compression.

Decoding never raises. A payload that cannot be decrypted (garbage, a missing or unknown key
id, a wrong key) comes out as a payload of encoding `binary/undecryptable` whose data is the
reason: the SDK decodes a whole workflow activation at once, so one raise here would fail
the workflow task on every retry and wedge the ticket. No converter reads that encoding, so
the workflow refuses the one message (naming the reason) and a client reading it gets an
error. The codec endpoint of the web app asks for `strict=True`: it answers the Web UI with
an error instead.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from domain import key_lists
from domain.messages import JSON_ENCODING, UNREADABLE_ENCODING
from domain.settings import Settings

ENCODING = b"binary/encrypted"
# None (no result, no argument) says nothing: sealing it would only cost bytes in history.
NULL_ENCODING = b"binary/null"
# Release 1's wrapper inside the ciphertext: its encoding, then the dictionary's id.
ZLIB_ENCODING = b"zlib/"
# Release 2's envelope (first byte of `data`) and the plaintext's packing flags.
ENVELOPE = 2
STORED, DEFLATED, JSON = 0, 1, 2  # JSON + 1: deflated JSON
# Preset dictionaries for deflate, by id. Most of a payload is its field names and enum
# values, which a small payload cannot amortise on its own: a dictionary of them (the
# payloads of one on-prem lifecycle with every value blanked but the enum-like ones) takes
# another quarter off. A payload names its dictionary, so one can never change once used:
# a new one gets a new id (and file), and the old ones stay for old payloads.
DICTIONARIES = {
    b"1": "29cc8aab4641bde3c0024190274035a297860313ad2e97ae95062d5686fef834",
}
CURRENT_DICTIONARY = b"1"


def _load_dictionaries() -> dict[bytes, bytes]:
    loaded = {}
    for key, digest in DICTIONARIES.items():
        data = (Path(__file__).with_name(f"payload_dictionary_{key.decode()}.txt")).read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise RuntimeError(f"payload dictionary {key.decode()} was changed: restore it")
        loaded[key] = data
    return loaded


_DICTIONARY_DATA = _load_dictionaries()

# A key id travels in every payload (release 2): short, and one byte gives its length.
MAX_KEY_ID = 64
# Below this a payload is not worth deflating (the wrapper and zlib's header eat the gain).
COMPRESS_FROM = 160
# A deflated payload may not inflate past this: Temporal refuses payloads over 2 MiB anyway,
# and a crafted one must not make a worker allocate without bound.
MAX_INFLATED = 4 * 1024 * 1024


def parse_keys(spec: str) -> dict[str, bytes]:
    return key_lists.parse_keys(spec, "codec key")


def derive_dev_key(secret: str) -> bytes:
    """A key derived from the app secret, so a dev setup encrypts without extra config."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"deskflow-codec").derive(
        secret.encode()
    )


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: dict[str, bytes], *, strict: bool = False) -> None:
        too_long = [k for k in keys if len(k.encode()) > MAX_KEY_ID]
        if too_long:  # the envelope gives a key id one byte of length
            raise ValueError(f"codec key ids are at most {MAX_KEY_ID} bytes: {too_long[0][:80]!r}")
        self._current_id = next(iter(keys))
        key_id = self._current_id.encode()
        self._header = bytes([ENVELOPE, len(key_id)]) + key_id  # opens every sealed payload
        self._ciphers = {k: AESGCM(v) for k, v in keys.items()}
        self._strict = strict

    @classmethod
    def from_settings(cls, settings: Settings, *, strict: bool = False) -> EncryptionCodec:
        if settings.codec_keys is not None:
            return cls(parse_keys(settings.codec_keys.get_secret_value()), strict=strict)
        return cls({"dev": derive_dev_key(settings.secret_key.get_secret_value())}, strict=strict)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [p if is_null(p) else self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = [self._decrypt(p) for p in payloads]
        if self._strict:
            for p in decoded:
                if p.metadata.get("encoding") == UNREADABLE_ENCODING:
                    raise ValueError(f"payload cannot be decrypted: {p.data.decode()}")
        return decoded

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(12)
        sealed = self._ciphers[self._current_id].encrypt(nonce, packed(payload), self._header)
        return Payload(metadata={"encoding": ENCODING}, data=self._header + nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        if "encryption-key-id" in payload.metadata:
            return self._decrypt_release_1(payload)
        data = payload.data
        end = 2 + data[1] if len(data) >= 2 else 0
        if not end or data[0] != ENVELOPE or len(data) < end:
            return unreadable("no encryption key id")
        key_id = data[2:end].decode(errors="replace")[:40]
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            return unreadable(f"unknown key id '{key_id}'")
        try:
            plain = cipher.decrypt(data[end : end + 12], data[end + 12 :], data[:end])
        except (InvalidTag, ValueError):
            return unreadable(f"not encrypted with key '{key_id}', or altered")
        return unpacked(plain)

    def _decrypt_release_1(self, payload: Payload) -> Payload:
        """A payload sealed before release 2: key id in metadata, wrappers inside."""
        key_id = payload.metadata["encryption-key-id"].decode(errors="replace")[:40]
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            return unreadable(f"unknown key id '{key_id}'")
        try:
            plain = Payload.FromString(cipher.decrypt(payload.data[:12], payload.data[12:], None))
        except (InvalidTag, ValueError, DecodeError):
            return unreadable(f"not encrypted with key '{key_id}', or altered")
        if not plain.metadata.get("encoding", b"").startswith(ZLIB_ENCODING):
            return plain
        return inflated(plain.metadata["encoding"].removeprefix(ZLIB_ENCODING), plain.data)

    def key_ids(self) -> Iterable[str]:
        return self._ciphers.keys()


def is_null(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == NULL_ENCODING and not payload.data


def packed(payload: Payload) -> bytes:
    """The plaintext of release 2: a flag byte, then the payload. Most payloads are plain
    JSON, which is sent as its bytes alone (the `json/plain` metadata is implied); any
    other is serialized whole. Either is deflated (flag +1, then the dictionary id) when
    that makes it smaller."""
    if dict(payload.metadata) == {"encoding": JSON_ENCODING}:
        flag, body = JSON, payload.data
    else:
        flag, body = STORED, payload.SerializeToString()
    if len(body) < COMPRESS_FROM:
        return bytes([flag]) + body
    deflate = zlib.compressobj(zdict=_DICTIONARY_DATA[CURRENT_DICTIONARY])
    small = bytes([flag + 1]) + CURRENT_DICTIONARY + deflate.compress(body) + deflate.flush()
    return small if len(small) < len(body) + 1 else bytes([flag]) + body


def unpacked(plain: bytes) -> Payload:
    """The payload a release 2 plaintext holds; unreadable if it is damaged."""
    flag, body = (plain[0], plain[1:]) if plain else (None, b"")
    if flag in (DEFLATED, JSON + 1):
        body = inflate(body[:1], body[1:])
        if isinstance(body, Payload):  # unreadable
            return body
        flag -= 1
    if flag == JSON:
        return Payload(metadata={"encoding": JSON_ENCODING}, data=body)
    if flag == STORED:
        try:
            return Payload.FromString(body)
        except DecodeError:
            return unreadable("payload is corrupt")
    return unreadable("unknown payload packing")


def inflate(dictionary: bytes, data: bytes) -> bytes | Payload:
    """Bytes deflated with the `dictionary` id; an unreadable payload if corrupt or oversize."""
    if dictionary not in _DICTIONARY_DATA:
        name = dictionary.decode(errors="replace")[:40]
        return unreadable(f"unknown compression dictionary '{name}'")
    inflater = zlib.decompressobj(zdict=_DICTIONARY_DATA[dictionary])
    try:
        raw = inflater.decompress(data, MAX_INFLATED)
    except zlib.error:
        return unreadable("compressed payload is corrupt")
    if inflater.unconsumed_tail or not inflater.eof:
        return unreadable("compressed payload is truncated or too large")
    return raw


def inflated(dictionary: bytes, data: bytes) -> Payload:
    """The payload inside a release 1 `zlib/<dictionary>` wrapper."""
    raw = inflate(dictionary, data)
    if isinstance(raw, Payload):
        return raw
    try:
        return Payload.FromString(raw)
    except DecodeError:
        return unreadable("compressed payload is corrupt")


def unreadable(reason: str) -> Payload:
    """The stand-in for a payload that could not be decrypted (see the module docstring)."""
    return Payload(metadata={"encoding": UNREADABLE_ENCODING}, data=reason.encode())
