"""The TDX batch bench runs end to end at a small scale (figures and 429s; nothing timed here)."""

from __future__ import annotations

import pytest

from starter.bench_tdx import bound_seconds, tdx_batch


def test_the_bound_is_the_busiest_method_at_tdx_rate():
    # 300 serials: 900 task creations at 60 per 6 s window outweigh 300 ticket creations at 30.
    assert bound_seconds(300) == 90.0
    assert bound_seconds(20) == 6.0


@pytest.mark.parametrize("workers", [1, 3])
async def test_tdx_batch_small(dev_env, settings, tdx_windows_forgotten, workers):
    """One worker process, or three sharing TDX's windows through the app database: no 429."""
    figures = await tdx_batch(
        dev_env.client,
        settings,
        workers=workers,
        serials=40,
        config="lab-loaners",
        team="nit-central",
    )
    w = f"tdx_batch_w{workers}"
    assert set(figures) == {
        f"{w}_seconds",
        f"{w}_bound_seconds",
        f"{w}_ratio",
        f"{w}_429_first_window",
        f"{w}_429_steady",
        f"{w}_workers",
    }
    assert figures[f"{w}_seconds"] > 0 and figures[f"{w}_bound_seconds"] == 12.0
    assert figures[f"{w}_workers"] == workers
    assert figures[f"{w}_429_first_window"] == 0 and figures[f"{w}_429_steady"] == 0
