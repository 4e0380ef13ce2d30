"""Credentials never reach a log: customer link tokens, feed keys, bearer tokens, passwords.

A customer link (`/c/<token>`) opens a ticket for 120 days, and the access log of a web
server writes every request path. Rather than trusting each logger (uvicorn's access log,
httpx's request log, our own), the log record factory redacts every record of the process
as it is made: its message and each argument, so formatters that read the arguments (as
uvicorn's access formatter does) still work.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"
_PATTERNS = [
    # customer links, in pages and the API: /c/<token>, /api/c/<token>
    (re.compile(r"(/c/)[^/?#\s\"']+"), rf"\g<1>{REDACTED}"),
    # credentials in query strings (ICS feed keys, tokens) and form-like text
    (
        re.compile(r"(?i)\b(\w*(?:key|token|password|secret))=[^&\s\"']+"),
        rf"\g<1>={REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(deskflow_session=)[^;\s\"']+"), rf"\g<1>{REDACTED}"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_arg(arg: Any) -> Any:
    if arg is None or isinstance(arg, (int, float)):
        return arg  # keeps %d and %f working
    text = str(arg)
    cleaned = redact(text)
    return arg if cleaned == text else cleaned


def install() -> None:
    """Redact every log record this process makes from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "deskflow_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redact_arg(v) for k, v in record.args.items()}
        return record

    factory.deskflow_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
