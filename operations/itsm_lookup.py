"""Whether the ITSM has a ticket, for the webhook (through the `LookupItsmTicket` workflow).

A product sends several deliveries for one ticket within seconds (the ticket logged, routed,
its due dates written back), so a "yes" is kept for `ttl` seconds and concurrent questions
about one ticket share one look-up: a burst costs the ITSM one call. A "no" is not kept: a
delivery retried later is asked about again.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from uuid import uuid4

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from domain.desk_messages import TICKET_LOOKUP_WORKFLOW, ItsmGet, TicketExistence


class ItsmUnavailable(Exception):
    """The ITSM (or Temporal) did not answer the look-up in time: ask the sender to retry."""


class TicketLookups:
    def __init__(self, *, ttl: float = 60.0, timeout: timedelta = timedelta(seconds=8)) -> None:
        self._ttl = ttl
        self._timeout = timeout
        self._known: dict[tuple[str, str], float] = {}
        self._asking: dict[tuple[str, str], asyncio.Future[TicketExistence]] = {}
        self.lookups = 0  # look-ups actually run (tests and metrics read it)

    async def exists(
        self, client: Client, task_queue: str, itsm: str, ticket_id: str
    ) -> TicketExistence:
        """Whether `itsm` has `ticket_id`; `ItsmUnavailable` if that cannot be known now."""
        key = (itsm, ticket_id)
        now = time.monotonic()
        if self._known.get(key, 0.0) > now:
            return TicketExistence(found=True)
        asking = self._asking.get(key)
        if asking is None:
            asking = asyncio.ensure_future(self._ask(client, task_queue, itsm, ticket_id))
            self._asking[key] = asking
            asking.add_done_callback(lambda _: self._asking.pop(key, None))
        found = await asyncio.shield(asking)
        if found.found:
            self._known[key] = time.monotonic() + self._ttl
            self._forget_expired()
        return found

    async def _ask(
        self, client: Client, task_queue: str, itsm: str, ticket_id: str
    ) -> TicketExistence:
        self.lookups += 1
        try:
            return await client.execute_workflow(
                TICKET_LOOKUP_WORKFLOW,
                ItsmGet(itsm=itsm, ticket_id=ticket_id),  # type: ignore[arg-type]
                id=f"itsm-lookup-{itsm}-{ticket_id}-{uuid4().hex[:8]}",
                task_queue=task_queue,
                result_type=TicketExistence,
                execution_timeout=self._timeout,
            )
        except (WorkflowFailureError, RPCError, RuntimeError, OSError) as exc:
            raise ItsmUnavailable(type(exc).__name__) from exc

    def _forget_expired(self) -> None:
        if len(self._known) > 10_000:
            now = time.monotonic()
            self._known = {k: t for k, t in self._known.items() if t > now}
