"""The TDX batch bench runs end to end at a small scale (figures only; nothing is timed here)."""

from __future__ import annotations

from starter.bench_tdx import bound_seconds, tdx_batch


def test_the_bound_is_the_busiest_method_at_tdx_rate():
    # 300 serials: 900 task creations at 60 per 6 s window outweigh 300 ticket creations at 30.
    assert bound_seconds(300) == 90.0
    assert bound_seconds(20) == 6.0


async def test_tdx_batch_small(dev_env, settings):
    figures = await tdx_batch(
        dev_env.client, settings, workers=1, serials=20, config="lab-loaners", team="nit-central"
    )
    assert set(figures) == {
        "tdx_batch_w1_seconds",
        "tdx_batch_w1_bound_seconds",
        "tdx_batch_w1_ratio",
        "tdx_batch_w1_429_first_window",
        "tdx_batch_w1_429_steady",
        "tdx_batch_w1_workers",
    }
    assert figures["tdx_batch_w1_seconds"] > 0 and figures["tdx_batch_w1_bound_seconds"] == 6.0
    assert figures["tdx_batch_w1_429_steady"] == 0
