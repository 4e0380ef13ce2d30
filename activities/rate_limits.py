"""A remote system's "slow down" (HTTP 429) turned into Temporal's wait.

TDX, Slack, the ITSMs and PagerDuty each say when to come back (`X-RateLimit-Reset`,
`Retry-After`). The activity fails with `next_retry_delay` set to exactly that, so Temporal
retries then and not blindly, and BENIGN, so the expected pacing is no incident in the logs.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory


def wait_until_allowed(message: str, error_type: str, retry_after: timedelta) -> ApplicationError:
    return ApplicationError(
        message,
        type=error_type,
        next_retry_delay=retry_after,
        category=ApplicationErrorCategory.BENIGN,
    )
