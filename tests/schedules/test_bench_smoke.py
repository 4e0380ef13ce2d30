"""The bench functions run end to end at a small scale (figures only; nothing is timed here)."""

from __future__ import annotations

from starter.bench_slots import bench_discovery, bench_generation


def test_bench_generation_small(tmp_path):
    figures = bench_generation(database_url=f"sqlite:///{tmp_path / 'g.db'}", teams=2, weeks=1)
    assert figures["generation_slots_created"] > 0
    assert figures["regeneration_slots_created"] == 0
    assert set(figures) >= {"generation_s", "generation_slots_per_s", "regeneration_s"}


async def test_bench_discovery_small(env, tmp_path):
    with env.auto_time_skipping_disabled():
        figures = await bench_discovery(
            env.client,
            database_url=f"sqlite:///{tmp_path / 'd.db'}",
            tickets=300,
            teams=3,
            weeks=1,
        )
    assert figures["discovery_waiting_tickets"] == 300
    # Every free seat is offered (no more), each offer reaches its ticket, none fails.
    assert figures["discovery_planned"] == min(300, figures["discovery_free_capacity"]) > 0
    assert figures["discovery_signals_sent"] == figures["discovery_planned"]
    assert figures["discovery_signal_failures"] == 0
