"""A PagerDuty Events API v2 client: `POST {base}/v2/enqueue`, answers turned into retries.

202 is done; 400 (an invalid event) is our fault and never retried; 429 (PagerDuty's throttle)
and 5xx are retried after a while, as PagerDuty's documentation asks, so an event that
matters (a page) is not lost. Retrying a trigger is safe: PagerDuty adds a repeated trigger
for an open alert (same routing key and dedup key) to that alert without notifying anyone.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.exceptions import ApplicationError

from activities.http_pool import api_client
from activities.rate_limits import wait_until_allowed
from domain.pagerduty import PageAccepted, PageEvent

THROTTLE_WAIT = timedelta(seconds=30)


class PagerDutyEvents:
    """One Events API endpoint; share one per worker (connection pool)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self._http = api_client(base_url.rstrip("/") + "/", timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, event: PageEvent) -> PageAccepted:
        try:
            r = await self._http.post("v2/enqueue", json=event.body())
        except httpx.TransportError as e:
            raise ApplicationError(
                f"PagerDuty unreachable: {type(e).__name__}", type="PagerDutyDown"
            ) from e
        if r.status_code == 202:
            body = r.json()
            return PageAccepted(
                status=str(body.get("status", "")),
                dedup_key=str(body.get("dedup_key", event.dedup_key)),
                message=str(body.get("message", "")),
            )
        if r.status_code == 429:
            wait = r.headers.get("Retry-After")
            raise wait_until_allowed(
                "PagerDuty throttled the event",
                "PagerDutyThrottled",
                timedelta(seconds=float(wait)) if wait else THROTTLE_WAIT,
            )
        try:
            detail = r.json()
        except ValueError:
            detail = r.text[:300]
        if r.status_code == 400:
            raise ApplicationError(
                f"PagerDuty refused the event: {detail}",
                type="PagerDutyInvalid",
                non_retryable=True,
            )
        raise ApplicationError(f"PagerDuty error {r.status_code}: {detail}", type="PagerDutyError")
