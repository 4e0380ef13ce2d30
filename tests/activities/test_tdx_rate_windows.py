"""The client reads TDX's rate-limit headers and holds calls back instead of earning 429s."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from activities.tdx_client import TdxClient, TdxRateLimited
from activities.tdx_rate_windows import RateWindows
from sim.tdx import STATUS_NEW

TICKET = {"TypeID": 1, "AccountID": 1, "StatusID": STATUS_NEW, "Title": "paced"}


@pytest.fixture
async def windows_sim(sim):
    sim.tdx.reset()
    yield sim
    sim.tdx.configure_limits(window_seconds=60, limit=100_000, create_limit=100_000)


async def test_a_burst_waits_for_the_next_window_and_meets_no_429(windows_sim, settings):
    sim = windows_sim
    sim.tdx.configure_limits(window_seconds=2.0, create_limit=4)
    local = settings.model_copy(update={"tdx_rate_window_seconds": 2.0})
    async with TdxClient.from_settings(local, min_retry_after=timedelta(0)) as client:
        await client.create_ticket(TICKET)  # learn the window
        began = time.monotonic()
        await asyncio.gather(*(client.create_ticket(TICKET) for _ in range(10)))
        took = time.monotonic() - began
    statuses = [c.status for c in sim.tdx.calls if c.path.endswith("/tickets")]
    assert statuses == [200] * 11
    assert took > 2.0  # 11 creates at 4 per window: the client waited for two window ends


def answer(limit: int, remaining: int, reset: datetime) -> httpx.Response:
    return httpx.Response(
        200,
        headers={
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": format_datetime(reset, usegmt=True),
        },
    )


async def test_the_window_end_is_exact_when_this_process_opened_the_window():
    """The header has whole seconds (rounded up); the window's first caller knows better."""
    windows = RateWindows(window_seconds=6.0)
    header_reset = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=7)
    windows.observe("POST {}/tickets", answer(60, 59, header_reset))  # we opened it
    exact = windows._windows["POST {}/tickets"].reset_at
    assert exact <= time.time() + 6.0 < header_reset.timestamp()
    windows.observe("GET {}/tickets/{}", answer(60, 40, header_reset))  # someone else did
    assert windows._windows["GET {}/tickets/{}"].reset_at == header_reset.timestamp()


async def test_a_long_wait_goes_back_to_temporal_without_calling_tdx(windows_sim, settings):
    sim = windows_sim
    sim.tdx.configure_limits(window_seconds=30, create_limit=1)
    async with TdxClient.from_settings(settings, min_retry_after=timedelta(0)) as client:
        await client.create_ticket(TICKET)
        with pytest.raises(TdxRateLimited) as caught:
            await client.create_ticket(TICKET)
    assert timedelta(seconds=25) < caught.value.retry_after <= timedelta(seconds=31)
    assert [c.status for c in sim.tdx.calls if c.path.endswith("/tickets")] == [200]
