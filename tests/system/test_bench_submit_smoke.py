"""The submit bench end to end at a tiny scale (figures only; nothing is timed here)."""

from __future__ import annotations

from starter.bench_submit import ORIGINAL_HISTORY_BYTES, submit_figures


async def test_submit_bench_small(dev_env, settings, tmp_path):
    figures = await submit_figures(
        dev_env.client,
        settings,
        rounds_c1=2,
        concurrency=3,
        bursts=2,
        batch=5,
        settle=0,
        workdir=tmp_path,
    )
    for q in ("p50_c1", "p95_c1", "p50_c100", "p95_c100"):
        assert figures[f"submit_vs_update_{q}"] > 0
    assert figures["worker_cpu_ms_per_submit"] > 0
    assert figures["baseline_worker_cpu_ms_per_update"] >= 0
    # The batch started every serial, and each ticket's history was read for timeouts.
    assert figures["batch_5_tickets_started"] == 5
    assert figures["batch_5_workflow_task_timeouts"] >= figures["batch_5_tickets_with_timeouts"]
    assert "worker_rss_mib_per_cached_ticket" in figures
    assert 0 < figures["history_bytes_full_onprem_lifecycle"] < ORIGINAL_HISTORY_BYTES
