"""Handing an ITSM event to its ticket's workflows (webhook deliveries and the catch-up)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from domain import desk_dispatch
from domain.itsm import ItsmEvent

# A signal-with-start refused as already started is asked again this many times in all.
ATTEMPTS = 3


async def deliver(client: Client, event: ItsmEvent, task_queue: str) -> list[str]:
    """Signal-with-start the event to each of its ticket's workflows; their ids.

    Deliveries for a new ticket arrive in bursts (Halo sends one per action), and two at once
    may both try to start its workflows: the server can refuse one of them as already started.
    Asked again, it signals the run the other one started, so no delivery is lost.
    """
    ids = []
    for target in desk_dispatch.targets(event):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                await client.start_workflow(
                    target.workflow,
                    target.arg,
                    id=target.id,
                    task_queue=task_queue,
                    start_signal=desk_dispatch.SIGNAL,
                    start_signal_args=[event],
                )
                break
            except WorkflowAlreadyStartedError:
                if attempt == ATTEMPTS:
                    raise
        ids.append(target.id)
    return ids
