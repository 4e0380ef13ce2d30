"""The client reads TDX's rate-limit headers and holds calls back instead of earning 429s."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from activities.tdx_client import TdxClient, TdxRateLimited
from sim.tdx import STATUS_NEW

TICKET = {"TypeID": 1, "AccountID": 1, "StatusID": STATUS_NEW, "Title": "paced"}


@pytest.fixture
async def windows_sim(sim):
    sim.tdx.reset()
    yield sim
    sim.tdx.configure_limits(window_seconds=60, limit=100_000, create_limit=100_000)


async def test_a_burst_waits_for_the_next_window_and_meets_no_429(windows_sim, settings):
    sim = windows_sim
    sim.tdx.configure_limits(window_seconds=1.0, create_limit=4)
    local = settings.model_copy(update={"tdx_rate_window_seconds": 1.0})
    async with TdxClient.from_settings(local, min_retry_after=timedelta(0)) as client:
        await client.create_ticket(TICKET)  # learn the window
        began = time.monotonic()
        await asyncio.gather(*(client.create_ticket(TICKET) for _ in range(10)))
        took = time.monotonic() - began
    statuses = [c.status for c in sim.tdx.calls if c.path.endswith("/tickets")]
    assert statuses == [200] * 11
    # 11 creates at 4 per 1 s window need three windows: the client waited for them.
    # (How little it waits beyond that is a figure of `make bench`, not a test.)
    assert took > 1.5


async def test_a_long_wait_goes_back_to_temporal_without_calling_tdx(windows_sim, settings):
    sim = windows_sim
    sim.tdx.configure_limits(window_seconds=30, create_limit=1)
    async with TdxClient.from_settings(settings, min_retry_after=timedelta(0)) as client:
        await client.create_ticket(TICKET)
        with pytest.raises(TdxRateLimited) as caught:
            await client.create_ticket(TICKET)
    assert timedelta(seconds=25) < caught.value.retry_after <= timedelta(seconds=31)
    assert [c.status for c in sim.tdx.calls if c.path.endswith("/tickets")] == [200]
