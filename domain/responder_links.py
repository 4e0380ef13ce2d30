"""Signed links in a page that let the paged person act on their case without signing in.

The page carries two links: "Acknowledge" (stop paging, I have it) and "Reached the customer"
(the one-hour promise kept). Each names the case and the person; the signature stops anyone
else from acknowledging, and the link expires after two days (an after-hours case is over
by then).
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "deskflow-responder-link"
MAX_AGE_SECONDS = 2 * 86400


class LinkError(Exception):
    """The link is forged, damaged or expired."""


def sign(secret: str, case_id: str, person: str) -> str:
    return URLSafeTimedSerializer(secret, salt=SALT).dumps({"c": case_id, "p": person})


def verify(secret: str, token: str) -> tuple[str, str]:
    """(case_id, person) of a valid token, else LinkError."""
    try:
        data = URLSafeTimedSerializer(secret, salt=SALT).loads(token, max_age=MAX_AGE_SECONDS)
    except SignatureExpired as e:
        raise LinkError("this link has expired") from e
    except BadSignature as e:
        raise LinkError("this link is not valid") from e
    return str(data["c"]), str(data["p"])
