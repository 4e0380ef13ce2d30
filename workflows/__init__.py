"""Orchestration only: deterministic workflow code that runs in Temporal's sandbox.

The sandbox imports this package afresh for every workflow run it starts, so it must not
import the workflow modules itself: doing so re-ran every one of them per run (measured with
SlaClock: about 400 KiB of worker memory per open workflow instead of about 200, and timers
firing seconds late under load). `ALL_WORKFLOWS` is still importable from here, lazily.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "ALL_WORKFLOWS":
        from workflows.registry import ALL_WORKFLOWS

        return ALL_WORKFLOWS
    raise AttributeError(f"module 'workflows' has no attribute {name!r}")
