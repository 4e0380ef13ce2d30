"""Secrets at rest: AES-GCM with a key id, so keys can be rotated without losing a row.

Used for the Exhibit A passwords (seed 000). Keys come from `DESKFLOW_AT_REST_KEYS`
("id:base64key,..."; the first encrypts, every listed key decrypts); without it a dev key is
derived from `DESKFLOW_SECRET_KEY`. Each ciphertext is bound to its row by associated data,
so a value copied into another row or field does not decrypt.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain import key_lists
from domain.settings import Settings

NONCE = 12


class SecretUnreadable(ValueError):
    """The row's key is not configured any more, or the ciphertext was tampered with."""


def parse_keys(spec: str) -> dict[str, bytes]:
    return key_lists.parse_keys(spec, "at-rest key")


class SecretBox:
    def __init__(self, keys: dict[str, bytes]) -> None:
        self.current = next(iter(keys))
        self._ciphers = {k: AESGCM(v) for k, v in keys.items()}

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.at_rest_keys is not None:
            return cls(parse_keys(settings.at_rest_keys.get_secret_value()))
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"deskflow-at-rest"
        ).derive(settings.secret_key.get_secret_value().encode())
        return cls({"dev": derived})

    def seal(self, plaintext: str, context: str) -> tuple[str, bytes]:
        """(key id, nonce + ciphertext) of `plaintext`, bound to `context`."""
        nonce = os.urandom(NONCE)
        data = self._ciphers[self.current].encrypt(nonce, plaintext.encode(), context.encode())
        return self.current, nonce + data

    def open(self, key_id: str, blob: bytes, context: str) -> str:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SecretUnreadable(f"encrypted with key {key_id!r}, which is not configured")
        try:
            return cipher.decrypt(blob[:NONCE], blob[NONCE:], context.encode()).decode()
        except InvalidTag:
            raise SecretUnreadable("the stored secret does not decrypt (tampered?)") from None
