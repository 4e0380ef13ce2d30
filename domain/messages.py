"""Why an incoming message was refused, in words a caller can act on, and never too long.

Anyone with access to the Temporal namespace can send a ticket any bytes under any update
or signal name. The workflow reads each message itself (instead of letting the SDK fail
with "Failed decoding arguments") and turns every problem into one short sentence that
names the field: "shipping_address.state: 'XX' is not a US state or territory code". The
sentence goes back to the caller of a refused update, or into the audit entry of a dropped
signal, so it is bounded in length whatever the sender put in the payload.
"""

from __future__ import annotations

from pydantic import ValidationError

# A payload the codec could not decrypt is handed on under this encoding, with the reason as
# its data: no payload converter knows it, so the message is refused rather than the whole
# workflow task failing (which would retry forever and wedge the ticket).
UNREADABLE_ENCODING = b"binary/undecryptable"
# The payload converter's encoding of JSON (the codec packs it apart; messages read it).
JSON_ENCODING = b"json/plain"
MAX_REASON = 500
MAX_FIELD = 60


def clip(text: str, limit: int = MAX_REASON) -> str:
    """`text`, cut to `limit` characters with an ellipsis if it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def field_path(loc: tuple[int | str, ...]) -> str:
    """`("shipping_address", "state")` → `shipping_address.state`; `()` → `payload`."""
    parts = [f"[{p}]" if isinstance(p, int) else clip(str(p), MAX_FIELD) for p in loc]
    return ".".join(parts).replace(".[", "[") or "payload"


def explain(err: ValidationError) -> str:
    """Every field at fault with pydantic's reason, without echoing the values sent."""
    reasons = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        msg = e["msg"].removeprefix("Value error, ")
        reasons.append(f"{field_path(tuple(e['loc']))}: {msg}")
    return clip("; ".join(reasons))
