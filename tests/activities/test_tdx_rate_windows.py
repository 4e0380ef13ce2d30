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
from store.db import make_engine, session_factory
from store.tables import TdxRateWindow

TICKET = {"TypeID": 1, "AccountID": 1, "StatusID": STATUS_NEW, "Title": "paced"}


@pytest.fixture
async def windows_sim(sim, tdx_windows_forgotten):
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


async def test_workers_share_one_count_and_together_meet_no_429(windows_sim, settings):
    """Two worker processes (two clients, each with its own database engine) share TDX's count."""
    sim = windows_sim
    sim.tdx.configure_limits(window_seconds=2.0, create_limit=4)
    local = settings.model_copy(
        update={"tdx_rate_window_seconds": 2.0, "tdx_rate_guard_seconds": 0.1}
    )
    async with (
        TdxClient.from_settings(local, min_retry_after=timedelta(0)) as one,
        TdxClient.from_settings(local, min_retry_after=timedelta(0)) as other,
    ):
        await one.create_ticket(TICKET)  # learn the window
        began = time.monotonic()
        await asyncio.gather(
            *(client.create_ticket(TICKET) for client in (one, other) for _ in range(5))
        )
        took = time.monotonic() - began
    statuses = [c.status for c in sim.tdx.calls if c.path.endswith("/tickets")]
    assert statuses == [200] * 11  # each alone would have sent 4 into the first window
    assert took > 2.0


async def test_the_window_end_is_exact_when_a_worker_opened_the_window(
    settings, tdx_windows_forgotten
):
    """The header has whole seconds (rounded up); the window's first caller knows better."""
    windows = RateWindows(session_factory(make_engine(settings.database_url)), window_seconds=6.0)
    # Later than our own end even when a loaded machine takes seconds over the calls below.
    header_reset = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30)
    began = time.time()
    for key, remaining in (("POST {}/tickets", 59), ("GET {}/tickets/{}", 40)):
        await windows.acquire(key)
        window_no = await windows.acquire(key)
        await windows.observe(key, window_no, answer(60, remaining, header_reset))
    with windows.sessions() as db:
        opened = db.get(TdxRateWindow, "POST {}/tickets")  # we opened it
        joined = db.get(TdxRateWindow, "GET {}/tickets/{}")  # someone else did
    assert began + 6.0 <= opened.ends_at <= time.time() + 6.0 < header_reset.timestamp()
    assert opened.used == 2 and opened.limit == 60  # ours: two sent, TDX had counted one
    assert joined.ends_at == header_reset.timestamp() and joined.used == 20


async def test_a_long_wait_goes_back_to_temporal_without_calling_tdx(windows_sim, settings):
    sim = windows_sim
    sim.tdx.configure_limits(window_seconds=30, create_limit=1)
    async with TdxClient.from_settings(settings, min_retry_after=timedelta(0)) as client:
        await client.create_ticket(TICKET)
        with pytest.raises(TdxRateLimited) as caught:
            await client.create_ticket(TICKET)
    assert timedelta(seconds=25) < caught.value.retry_after <= timedelta(seconds=31)
    assert [c.status for c in sim.tdx.calls if c.path.endswith("/tickets")] == [200]
