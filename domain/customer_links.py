"""Signed, expiring links that let a customer (or their delegate) open only their ticket."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "deskflow-customer-link"
MAX_AGE_DAYS = 120  # long enough for a refresh campaign; a new email carries a fresh link


class LinkError(Exception):
    """The link is forged, damaged or expired."""


def sign(secret: str, ticket_id: str, email: str) -> str:
    return URLSafeTimedSerializer(secret, salt=SALT).dumps({"t": ticket_id, "e": email.lower()})


def verify(secret: str, token: str, max_age_days: int = MAX_AGE_DAYS) -> tuple[str, str]:
    """Return (ticket_id, email) of a valid token, else raise LinkError."""
    try:
        data = URLSafeTimedSerializer(secret, salt=SALT).loads(token, max_age=max_age_days * 86400)
    except SignatureExpired as e:
        raise LinkError("this link has expired; use the link in your latest email") from e
    except BadSignature as e:
        raise LinkError("this link is not valid") from e
    return data["t"], data["e"]
