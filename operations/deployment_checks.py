"""Refuse to run the web app or a worker with secrets anyone could know; redact the logs.

The app secret signs staff sessions and the customer links (valid 120 days); the codec
keys encrypt every payload and failure sent to Temporal. With the public default secret
anyone could forge an admin session or open any ticket, and without codec keys the payload
key is derived from that secret. So outside `deskflow dev` and the tests (both set
`DESKFLOW_DEV=true`) both must be set to real values, and `deskflow secrets` makes them.
"""

from __future__ import annotations

import base64
import secrets

from domain.settings import Settings
from operations import log_redaction
from operations.payload_codec import parse_keys

DEFAULT_SECRET = Settings.model_fields["secret_key"].default.get_secret_value()
MIN_SECRET_CHARS = 32
HOW_TO_FIX = (
    "Make both with `deskflow secrets` (it prints two lines for your .env file or secret"
    " store), or run `deskflow dev` on a developer machine."
)


class NotSafeToDeploy(SystemExit):
    """Start-up refused; as a SystemExit it ends the process with the message, no traceback."""


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)


def new_codec_key(key_id: str = "k1") -> str:
    """One `id:base64(32 random bytes)` entry of DESKFLOW_CODEC_KEYS (AES-256-GCM)."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def problems(settings: Settings) -> list[str]:
    """What makes these settings unsafe outside development (empty: safe to start)."""
    found = []
    secret = settings.secret_key.get_secret_value()
    if secret == DEFAULT_SECRET:
        found.append(
            "DESKFLOW_SECRET_KEY is not set: the public default would let anyone sign staff"
            " sessions and customer links."
        )
    elif len(secret) < MIN_SECRET_CHARS:
        found.append(
            f"DESKFLOW_SECRET_KEY is {len(secret)} characters; use at least"
            f" {MIN_SECRET_CHARS} random ones."
        )
    if settings.codec_keys is None or not settings.codec_keys.get_secret_value().strip():
        found.append(
            "DESKFLOW_CODEC_KEYS is not set: payloads and failures sent to Temporal need their"
            " own encryption key."
        )
    else:
        try:
            parse_keys(settings.codec_keys.get_secret_value())
        except ValueError as e:
            found.append(f"DESKFLOW_CODEC_KEYS is not valid: {e}.")
    if settings.at_rest_keys is None or not settings.at_rest_keys.get_secret_value().strip():
        found.append(
            "DESKFLOW_AT_REST_KEYS is not set: provisioning passwords kept in the database need"
            " their own encryption key."
        )
    else:
        try:
            parse_keys(settings.at_rest_keys.get_secret_value())
        except ValueError as e:
            found.append(f"DESKFLOW_AT_REST_KEYS is not valid: {e}.")
    return found


def prepare_process(settings: Settings, what: str) -> None:
    """What the web app and each worker do first: refuse unsafe secrets, redact the logs."""
    require_deployable(settings, what)
    log_redaction.install()


def require_deployable(settings: Settings, what: str) -> None:
    """Raise NotSafeToDeploy naming every problem, unless this is `deskflow dev` or a test."""
    if settings.dev:
        return
    found = problems(settings)
    if found:
        lines = "\n".join(f"  - {p}" for p in found)
        raise NotSafeToDeploy(f"deskflow {what} will not start:\n{lines}\n{HOW_TO_FIX}")
