"""`make bench` runs the benches held to aims each in a process of its own and reads their
figures back: what the child prints goes to the bench's log, a child that fails stops it."""

from __future__ import annotations

import sys

import pytest

from starter.bench_process import in_own_process

CHILD = """
from starter.bench_process import run_main

async def main():
    print("worker started")
    if {fail}:
        raise SystemExit(3)
    return {{"tdx_batch_w1_ratio": 1.04, "batch_2000_workflow_task_timeouts": 0}}

if __name__ == "__main__":
    run_main(main)
"""


@pytest.fixture
def child_module(tmp_path, monkeypatch):
    def write(name: str, fail: bool) -> str:
        (tmp_path / f"{name}.py").write_text(CHILD.format(fail=fail))
        return name

    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{':'.join(sys.path)}")
    return write


async def test_the_figures_come_back_and_the_child_output_goes_to_the_log(
    child_module, tmp_path, capsys
):
    figures = await in_own_process(child_module("bench_ok", fail=False), tmp_path / "b.log")
    assert figures == {"tdx_batch_w1_ratio": 1.04, "batch_2000_workflow_task_timeouts": 0}
    assert capsys.readouterr().out == "worker started\n"


async def test_a_child_that_fails_stops_the_bench_and_names_itself(child_module, tmp_path):
    with pytest.raises(RuntimeError, match=r"bench_bad ended with exit code 3; see .*b\.log"):
        await in_own_process(child_module("bench_bad", fail=True), tmp_path / "b.log")
