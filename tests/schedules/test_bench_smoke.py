"""The bench functions run end to end at a small scale (figures only; nothing is timed here)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from pathlib import Path

from starter.bench_report import BEGIN, END, docs_section, figure_lines, write_docs
from starter.bench_slots import bench_discovery, bench_generation

ROOT = Path(__file__).resolve().parents[2]


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


def test_figures_print_counts_as_integers(tmp_path):
    figures = bench_generation(database_url=f"sqlite:///{tmp_path / 'g.db'}", teams=2, weeks=1)
    lines = dict(line.split() for line in figure_lines(figures))
    assert lines["generation_teams"] == "2" and lines["generation_weeks"] == "1"
    assert lines["regeneration_slots_created"] == "0"
    assert lines["generation_slots_created"] == str(figures["generation_slots_created"])
    assert re.fullmatch(r"\d+\.\d\d", lines["generation_s"])


def test_bench_output_is_figures_only_and_logs_go_to_a_file(tmp_path):
    """Everything but the figures (child processes, logging, native writes) lands in the log."""
    log = tmp_path / "var" / "bench.log"
    script = f"""
import logging, os, subprocess, sys
from pathlib import Path
from starter.bench_report import figure_lines, figures_only
with figures_only(Path({str(log)!r})):
    print("INFO:     127.0.0.1:5000 - 'POST /TDWebApi/api/42/tickets HTTP/1.1' 200 OK")
    logging.basicConfig(level=logging.INFO)
    logging.getLogger("httpx").info("HTTP Request: GET http://127.0.0.1 200 OK")
    subprocess.run([sys.executable, "-c", "print('worker started')"], check=True)
    os.write(2, b"dev server noise\\n")
for line in figure_lines({{"generation_teams": 20, "generation_s": 0.3412}}):
    print(line)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.splitlines() == [
        f"logs: {log}",
        f"{'generation_teams':40s} {'20':>10s}",
        f"{'generation_s':40s} {'0.34':>10s}",
    ]
    assert done.stderr == ""
    kept = log.read_text()
    for noise in ("POST /TDWebApi", "HTTP Request", "worker started", "dev server noise"):
        assert noise in kept


def test_docs_figures_are_regenerated_from_the_bench_output(tmp_path):
    figures = bench_generation(database_url=f"sqlite:///{tmp_path / 'g.db'}", teams=2, weeks=1)
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmarks\n\nintro\n\n{BEGIN}\nold figures\n{END}\n\n## Notes\nkept\n")
    write_docs(docs, docs_section(figures, "x86_64, 2 cores", date(2026, 11, 28)))
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\nintro\n\n") and text.endswith("## Notes\nkept\n")
    assert "old figures" not in text and "Run on 2026-11-28: x86_64, 2 cores." in text
    made = figures["generation_slots_created"]
    assert f"2 teams × 1 week: {made:,} slots in {figures['generation_s']:.2f} s" in text
    # The idempotent run shows its own time, not the first run's.
    assert f"| 0 slots created in {figures['regeneration_s']:.2f} s | creates nothing |" in text
    assert "| ratio ticket / empty | not measured in this run | ≥ 0.8 |" in text
    for line in figure_lines(figures):
        assert line in text
    again = docs_section(figures, "x86_64, 2 cores", date(2026, 11, 28))
    write_docs(docs, again)
    assert docs.read_text() == text


def test_issue_15_rows_and_aims_read_the_submit_figures():
    from starter.bench_submit import submit_aims_met

    figures = {
        "submit_vs_update_p50_c1": 1.41,
        "submit_vs_update_p95_c1": 1.32,
        "submit_p50_ms_c1": 10.5,
        "update_p50_ms_c1": 7.4,
        "submit_vs_update_p50_c100": 1.35,
        "submit_vs_update_p95_c100": 1.5,
        "submit_p50_ms_c100": 249.4,
        "update_p50_ms_c100": 184.5,
        "history_bytes_full_onprem_lifecycle": 92_840,
        "history_events_full_onprem_lifecycle": 168,
        "history_bytes_vs_before_issue_15": 0.68,
        "batch_2000_workflow_task_timeouts": 0,
        "batch_2000_seconds": 259.2,
    }
    text = docs_section(figures, "x86_64, 2 cores", date(2026, 11, 28))
    assert "100 customers at once (p50 / p95; p50 in ms) | 1.35 / 1.50 (249.4 vs 184.5 ms)" in text
    assert "| 92,840 B (168 events; 0.68) | ≤ 0.70 |" in text
    assert submit_aims_met(figures)
    assert not submit_aims_met(figures | {"submit_vs_update_p95_c100": 1.51})
    assert not submit_aims_met(figures | {"history_bytes_full_onprem_lifecycle": 95_748})
    assert not submit_aims_met(figures | {"batch_2000_workflow_task_timeouts": 1})
    no_batch = {k: v for k, v in figures.items() if not k.startswith("batch_")}
    assert not submit_aims_met(no_batch)  # an aim not measured is not met


def test_a_missed_aim_is_named():
    from starter.bench import missed_aims

    figures = {
        "ratio": 0.87,
        "onprem_lifecycle_history_events": 171,
        **{f"tdx_batch_w{w}_429_steady": 0 for w in (1, 3)},
        "tdx_batch_w1_ratio": 1.14,
        "tdx_batch_w3_ratio": 1.06,
        "submit_vs_update_p50_c1": 1.26,
        "submit_vs_update_p95_c1": 1.37,
        "submit_vs_update_p50_c100": 1.47,
        "submit_vs_update_p95_c100": 1.47,
        "history_bytes_full_onprem_lifecycle": 95_100,
        "batch_2000_workflow_task_timeouts": 0,
    }
    assert missed_aims(figures) == [
        "TDX batch <= 1.10 x its bound, no 429 in steady state (issue 8)"
    ]
    assert missed_aims(figures | {"tdx_batch_w1_ratio": 1.07}) == []
    slow = figures | {"ratio": 0.7, "tdx_batch_w1_ratio": 1.0, "submit_vs_update_p95_c100": 1.6}
    assert missed_aims(slow) == [
        "RefreshTicket starts >= 0.8 x empty starts",
        "Confirm <= 1.5 x a bare update, lifecycle history <= 70 % of before, no "
        "workflow-task timeout in the batch (issue 15)",
    ]
