"""AES-GCM payload codec: every payload deskflow sends to Temporal is encrypted.

Customer names, addresses and (for provisioning) passwords never reach the Temporal
server in the clear; the Web UI shows them only through the codec endpoint of the web
app. Each payload names the key that encrypted it, so keys can be rotated: the first key
in `DESKFLOW_CODEC_KEYS` encrypts, all listed keys decrypt. Rotate in two deploys: first add
the new key *second* everywhere (every process can read it), then move it first.

Decoding never raises. A payload that cannot be decrypted (garbage, a missing or unknown key
id, a wrong key) comes out as a payload of encoding `binary/undecryptable` whose data is the
reason: the SDK decodes a whole workflow activation at once, so one raise here would fail
the workflow task on every retry and wedge the ticket. No converter reads that encoding, so
the workflow refuses the one message (naming the reason) and a client reading it gets an
error. The codec endpoint of the web app asks for `strict=True`: it answers the Web UI with
an error instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from domain import key_lists
from domain.messages import UNREADABLE_ENCODING
from domain.settings import Settings

ENCODING = b"binary/encrypted"


def parse_keys(spec: str) -> dict[str, bytes]:
    return key_lists.parse_keys(spec, "codec key")


def derive_dev_key(secret: str) -> bytes:
    """A key derived from the app secret, so a dev setup encrypts without extra config."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"deskflow-codec").derive(
        secret.encode()
    )


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: dict[str, bytes], *, strict: bool = False) -> None:
        self._current_id = next(iter(keys))
        self._ciphers = {k: AESGCM(v) for k, v in keys.items()}
        self._strict = strict

    @classmethod
    def from_settings(cls, settings: Settings, *, strict: bool = False) -> EncryptionCodec:
        if settings.codec_keys is not None:
            return cls(parse_keys(settings.codec_keys.get_secret_value()), strict=strict)
        return cls({"dev": derive_dev_key(settings.secret_key.get_secret_value())}, strict=strict)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = [self._decrypt(p) for p in payloads]
        if self._strict:
            for p in decoded:
                if p.metadata.get("encoding") == UNREADABLE_ENCODING:
                    raise ValueError(f"payload cannot be decrypted: {p.data.decode()}")
        return decoded

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(12)
        data = self._ciphers[self._current_id].encrypt(nonce, payload.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, "encryption-key-id": self._current_id.encode()},
            data=nonce + data,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        raw_id = payload.metadata.get("encryption-key-id")
        if raw_id is None:
            return unreadable("no encryption key id")
        key_id = raw_id.decode(errors="replace")[:40]
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            return unreadable(f"unknown key id '{key_id}'")
        try:
            plain = cipher.decrypt(payload.data[:12], payload.data[12:], None)
            return Payload.FromString(plain)
        except (InvalidTag, ValueError, DecodeError):
            return unreadable(f"not encrypted with key '{key_id}', or altered")

    def key_ids(self) -> Iterable[str]:
        return self._ciphers.keys()


def unreadable(reason: str) -> Payload:
    """The stand-in for a payload that could not be decrypted (see the module docstring)."""
    return Payload(metadata={"encoding": UNREADABLE_ENCODING}, data=reason.encode())
