"""Which task queue each kind of TDX call runs on.

TDX rate-limits every API method separately (its own fixed 60 s window per method and
calling address: 60 calls, 30 for ticket creation). A task queue's rate limit is enforced by
the Temporal server across every worker polling it, so giving each heavily used method a
queue of its own, limited at that method's rate, keeps all workers together under each
limit without one method's backlog slowing another's. Workflows name the queue (they know
only their own task queue); the worker polls all of them.
"""

from __future__ import annotations

from typing import Literal

TdxQueue = Literal["calls", "ticket_create", "task_create", "asset_search"]

# Suffix appended to the main task queue; "calls" carries the light, mixed traffic (feeds,
# task updates, the daily ticket check), each of its methods at most at the queue's rate.
SUFFIX: dict[TdxQueue, str] = {
    "calls": "-tdx",
    "ticket_create": "-tdx-create",  # POST {appId}/tickets (after its marker search)
    "task_create": "-tdx-tasks",  # POST {appId}/tickets/{id}/tasks (after listing tasks)
    "asset_search": "-tdx-assets",  # POST {appId}/assets/search (+ the owner's person)
}


def tdx_queue(main_queue: str, kind: TdxQueue) -> str:
    return f"{main_queue}{SUFFIX[kind]}"
