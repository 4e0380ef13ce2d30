"""HTTP answers of an ITSM turned into the port's errors, and those into Temporal retries.

Both adapters share this: a 429 becomes `ItsmRateLimited` carrying the product's
`Retry-After`, which `itsm_errors` hands Temporal as `next_retry_delay` (the way TDX's 429 is
waited out); a 5xx, a dropped connection, 408 (the ITSM timed out), 409 (a conflicting
write in flight) are retried with the activity's backoff; every other 4xx is permanent and
not retried: 400/401/403/422 will not heal by asking again, and 404 means the ticket is gone
(deleted in the ITSM), which the calling workflow records instead of retrying forever.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import ParamSpec, TypeVar

import httpx
from temporalio.exceptions import ApplicationError

from activities.rate_limits import wait_until_allowed
from domain.itsm import ItsmError, ItsmNotFound, ItsmRateLimited

P = ParamSpec("P")
R = TypeVar("R")
FALLBACK_RETRY_AFTER = 30.0


def retry_after(response: httpx.Response) -> float:
    """Seconds from `Retry-After` (seconds or an HTTP date); 30 s when absent or unreadable."""
    value = response.headers.get("Retry-After", "")
    try:
        return max(float(value), 1.0)
    except ValueError:
        pass
    try:
        from datetime import UTC, datetime

        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 1.0)
    except (TypeError, ValueError):
        return FALLBACK_RETRY_AFTER


def raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    if response.status_code == 429:
        raise ItsmRateLimited(retry_after(response))
    try:
        body = response.json()
        found = (body.get("error") or body.get("detail")) if isinstance(body, dict) else body
        message = str(found)[:500]
    except ValueError:
        message = response.text[:500] or response.reason_phrase
    if response.status_code == 404:
        raise ItsmNotFound(message)
    raise ItsmError(response.status_code, message)


# 401/403 are retried too: bad or rotated credentials are fixed by an operator, and the
# writes waiting on them (visible as stuck activities meanwhile) then go through.
RETRYABLE_4XX = frozenset({401, 403, 408, 409, 429})


def permanent(status: int) -> bool:
    """A 4xx the same call will meet again whatever anyone does: not worth a retry."""
    return 400 <= status < 500 and status not in RETRYABLE_4XX


def itsm_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn the ITSM's answers into Temporal retry decisions."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ItsmRateLimited as e:
            raise wait_until_allowed(
                "ITSM rate limit", "ItsmRateLimited", timedelta(seconds=e.retry_after_seconds)
            ) from e
        except ItsmError as e:
            raise ApplicationError(
                str(e),
                e.status,
                type="ItsmNotFound" if e.status == 404 else "ItsmError",
                non_retryable=permanent(e.status),
            ) from e
        except httpx.TransportError as e:
            raise ApplicationError(f"ITSM unreachable: {type(e).__name__}", type="ItsmDown") from e

    return wrapper
