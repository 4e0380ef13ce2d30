"""Running one activity attempt at a time, as Temporal would retry it, against a stand-in."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment


async def attempt(fn: Any, req: Any) -> Any:
    """One attempt of activity `fn`: its result, or the ApplicationError that asks Temporal
    for a retry (its type and `next_retry_delay` are what the tests read)."""
    try:
        return await ActivityEnvironment().run(fn, req)
    except ApplicationError as e:
        return e


async def until_quiet(stand_in: Any) -> None:
    """Wait until `stand_in` (sim.tdx, sim.slack) has answered every slow call it holds."""
    for _ in range(100):
        if stand_in.in_flight == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the stand-in never finished its slow answers")
