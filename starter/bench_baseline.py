"""The baseline of the submit bench: a trivial workflow with one update, in a worker of its own.

`python -m starter.bench_baseline` serves it on DESKFLOW_TASK_QUEUE with deskflow's data
converter and payload codec (from the same settings as the real worker), so the bench's
ratios compare deskflow with what a bare Temporal update costs on the same server, not with
an update that skips encryption.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

from temporalio import workflow
from temporalio.worker import Worker

WORKFLOW = "BenchBaseline"


@workflow.defn(name=WORKFLOW)
class BenchBaseline:
    """Counts the updates it is sent; runs until cancelled (the bench terminates it)."""

    def __init__(self) -> None:
        self.seen = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def submit(self, answers: dict[str, Any]) -> dict[str, Any]:
        self.seen += 1
        return {"seen": self.seen}


async def serve() -> None:
    from domain.settings import get_settings
    from operations.long_lived import freeze_startup_heap
    from operations.temporal_client import connect

    settings = get_settings()
    client = await connect(settings)
    freeze_startup_heap()  # as deskflow's worker does: the same process setup
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=settings.task_queue, workflows=[BenchBaseline]):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve())
