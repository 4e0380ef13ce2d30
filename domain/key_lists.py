"""Key lists in settings: `id1:base64key,id2:base64key`, the first encrypts, all decrypt.

The payload codec (DESKFLOW_CODEC_KEYS) and the at-rest secret box (DESKFLOW_AT_REST_KEYS)
read the same form, so a key rotation works the same way for both.
"""

from __future__ import annotations

import base64
import binascii


def parse_keys(spec: str, what: str = "key") -> dict[str, bytes]:
    """`id1:base64key,id2:base64key` → {id: key}; each key 16, 24 or 32 bytes (AES-GCM)."""
    keys: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key_id, _, b64 = part.partition(":")
        try:
            key = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error):
            key = b""
        if not key_id or len(key) not in (16, 24, 32):
            raise ValueError(f"{what} {key_id or '?'!r} must be id:base64(16/24/32 bytes)")
        keys[key_id] = key
    if not keys:
        raise ValueError(f"no {what}s given")
    return keys
