"""The refresh ticket's bookkeeping: its state, audit trail, projection, timers and checks.

`TicketBase` holds what both halves of the workflow share: the story in
`refresh_ticket.py` (the run loop and its steps) and the messages in `refresh_messages.py`
(updates and signals). Nothing here decides where a ticket goes; it records that it went,
tells the database and the search attributes, and waits for the next thing to happen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import search_attributes as sa
    from domain.activity_requests import ProjectTicket
    from domain.refresh import TERMINAL, AuditEntry, Deadline, Status, TicketContext, TicketState
    from workflows import refresh_activities as act

T = TypeVar("T")
# Search attributes are written by `_sync` alone, from what changed. Older runs wrote them
# from three places (a status change, exchange_replacement, a booking); their histories
# keep replaying that way (see `_sync`, `_book`, `exchange_replacement`).
SEARCH_ATTRIBUTES_FROM_SYNC = "search-attributes-from-sync"
# The projection is written after the update that changed the ticket has answered, in a
# workflow task of its own, with only the audits not written yet. Older runs wrote it
# inside every change's workflow task, so an update's reply waited for the database.
PROJECTION_AFTER_REPLY = "projection-after-reply"
# How long after an update's reply its projection is written (and, since
# FOLLOW_UP_AFTER_REPLY, what a customer's Confirm sets off starts). The reply's workflow
# task completes first whatever the wait; the wait lets a burst of replies (100 customers
# confirming at once, answered within half a second on two cores) go out before the worker
# and the server spend time on their rows and TDX tickets, and keeps the lists a staff
# member sees a second behind. The timer is durable: a crash in between still ends with the
# row written and the follow-up done by the next worker.
AFTER_REPLY = timedelta(seconds=1)
# The search attributes an update changed are written with its projection, after its reply:
# the server writes them before it lets the reply go (on the dev server, half again a bare
# update's time); and an event for the reports is a regular activity, not a local one that
# would hold the workflow task (a changed location held the wizard's reply for a database
# write). A run recorded with this marker needs neither marker above: it stands for both,
# so a new run records one marker, not three.
SYNC_AFTER_REPLY = "sync-after-reply"
# What a customer's Confirm (`submit_wizard`) sets off (the step after it: a changed
# location's TDX ticket and report event, then approval or ordering) waits for the Confirm's
# projection, after the reply. Before, it started in the reply's own workflow task: in a
# burst of Confirms the worker and the server did the first customers' follow-ups while
# later customers still waited for their answers (100 at once, p50: 1.37-1.52 times a bare
# update over six runs before, 1.17-1.48 over three after). Customers come in bursts (an
# invite wave); staff and approvers do not, and their updates move the status at once (an
# approval must not leave a second in which a reject would still be taken). A run decides
# it in its first workflow task: a patch's first check records its marker and writes a
# search attribute (TemporalChangeVersion), which would hold a reply.
FOLLOW_UP_AFTER_REPLY = "follow-up-after-reply"
# A run whose setup is refused for good writes its row as cancelled, with the reason, before
# it fails (the ticket's starter wrote its first row: without this it would stay in its
# first status). Older runs failed without a word.
SETUP_REFUSAL_SHOWN = "setup-refusal-shown"


class TicketBase:
    s: TicketState
    _context: TicketContext | None
    _config_wanted: int | None  # a newer config version to reload before the next step
    _dirty: bool
    _synced_status: Status | None
    _synced_attributes: dict[str, Any]
    _running: dict[str, asyncio.Task]
    _history_limit: int | None
    _one_at_a_time: asyncio.Lock
    _replying: bool  # an update ran since the last projection: do not hold its reply
    _after_reply: asyncio.Task | None  # the projection waiting for the reply to go out
    _audits_written: int  # audits already in the app database
    _projecting: asyncio.Lock  # one projection write at a time, in order
    _attributes_after_reply: bool  # the search attributes wait for the reply too
    _follow_up_after_reply: bool  # FOLLOW_UP_AFTER_REPLY, decided as the run starts
    _confirmed: bool  # the wizard was just submitted (under FOLLOW_UP_AFTER_REPLY): wait

    @property
    def ctx(self) -> TicketContext:
        """Config, team and calendar, loaded by `run` before any step or validator needs them."""
        if self._context is None:
            raise ApplicationError("the ticket is still starting; try again shortly")
        return self._context

    @property
    def tdx_id(self) -> int:
        assert self.s.tdx.ticket_id is not None
        return self.s.tdx.ticket_id

    # ----- recording ---------------------------------------------------------------------

    def _touch(self) -> None:
        """Something changed: the loop re-evaluates and `_sync` writes it out."""
        self._dirty = True

    def _audit(self, actor: str, action: str, *, from_status=None, to_status=None, detail=""):
        self.s.audits.append(
            AuditEntry(
                seq=len(self.s.audits) + 1,
                at=workflow.now(),
                actor=actor,
                action=action,
                from_status=from_status,
                to_status=to_status,
                detail=detail,
            )
        )
        self._touch()

    def _set_status(self, status: Status, actor: str, detail: str = "") -> None:
        """Move to `status` (never out of a terminal one); checks of the old status stop."""
        old = self.s.status
        if status != old and old not in TERMINAL:
            if self._running:
                for task in self._running.values():
                    task.cancel()
                self._running.clear()
            self.s.status = status
            self._audit(actor, "status", from_status=old, to_status=status, detail=detail)

    async def _sync(self) -> None:
        """Write the search attributes that changed and the projection for the web app.

        A local activity holds its workflow task open until it is done, and with it the
        reply of an update answered in that task; so after an update the projection (and,
        since SYNC_AFTER_REPLY, the search attributes) waits for a workflow task of its own
        (`_project_after_reply`).
        """
        self._dirty = False
        if self._replying and workflow.patched(SYNC_AFTER_REPLY):
            self._attributes_after_reply = True
            self._after_the_reply()
            return
        if self._attributes_from_sync():
            self._upsert_changed_search_attributes()
        elif self.s.status != self._synced_status:
            self._upsert_search_attributes_v1()
        if not (workflow.patched(SYNC_AFTER_REPLY) or workflow.patched(PROJECTION_AFTER_REPLY)):
            await act.project_ticket(ProjectTicket(state=self.s))
        elif self._replying:
            self._after_the_reply()
        else:
            await self._project()

    def _after_the_reply(self) -> None:
        """One `_project_after_reply` for every change made while updates are answered."""
        if self._after_reply is None:
            self._after_reply = asyncio.ensure_future(self._project_after_reply())

    async def _waited_for_the_confirm(self) -> bool:
        """After a customer's Confirm, wait until its row is written, its reply long gone,
        before the step it sets off (FOLLOW_UP_AFTER_REPLY; before it, the step did not
        wait). True if it waited: more updates may have come (a cancel), so look again."""
        if not self._confirmed or self._after_reply is None:
            return False
        self._confirmed = False
        await self._after_reply
        return True

    def _events_local(self) -> bool:
        """Whether an update's report event is a local activity (runs before the marker)."""
        return not workflow.patched(SYNC_AFTER_REPLY)

    def _attributes_from_sync(self) -> bool:
        """Whether this run writes search attributes from `_sync` alone (see the markers)."""
        return workflow.patched(SYNC_AFTER_REPLY) or workflow.patched(SEARCH_ATTRIBUTES_FROM_SYNC)

    async def _project_after_reply(self) -> None:
        """The search attributes and projection of what updates changed, once their replies
        have gone out."""
        await workflow.sleep(AFTER_REPLY)
        self._replying, self._after_reply = False, None
        if self._attributes_after_reply:
            self._attributes_after_reply = False
            self._upsert_changed_search_attributes()
        await self._project()

    async def _project(self) -> None:
        """Write the row as the ticket is now, with the audits not written yet.

        One write at a time, each with the next `revision`: the database keeps the newest
        even if a timed-out attempt of an older write lands late.
        """
        async with self._projecting:
            s = self.s
            s.revision += 1
            new = s.audits[self._audits_written :]
            await act.project_ticket(ProjectTicket(state=s.model_copy(update={"audits": new})))
            self._audits_written = max(self._audits_written, new[-1].seq if new else 0)

    async def _projected(self) -> None:
        """Every change is in the app database: the run may end or continue as new."""
        while self._after_reply is not None:
            await self._after_reply

    def _search_attributes(self) -> Iterable[SearchAttributeUpdate]:
        """Every search attribute of the ticket, as it should read now."""
        s = self.s
        wanted = [
            (sa.REFRESH_STATUS, s.status.value),
            (sa.SUPPORT_TEAM, s.support_team),
            (sa.REFRESH_STYLE, s.style),
            (sa.CONFIG_ID, s.config_id),
            (sa.EXISTING_SERIAL, s.existing_system.serial),
            (sa.BATCH_ID, s.batch_id),
            (sa.REPLACEMENT_SERIAL, s.replacement_system and s.replacement_system.serial),
            (sa.DAY1, s.day1),
        ]
        return [key.value_set(value) for key, value in wanted if value is not None]

    def _upsert_changed_search_attributes(self) -> None:
        first = not self._synced_attributes
        if first:
            # What the start set needs no second writing (1.4 kB of every history), but the
            # status is written anyway: runs recorded before still replay one upsert here.
            self._synced_attributes = {
                p.key.name: p.value for p in workflow.info().typed_search_attributes
            }
            self._synced_attributes.pop(sa.REFRESH_STATUS.name, None)
        changed = [
            u
            for u in self._search_attributes()
            if self._synced_attributes.get(u.key.name) != u.value
        ]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._synced_attributes.update({u.key.name: u.value for u in changed})

    def _upsert_search_attributes_v1(self) -> None:
        """How runs before SEARCH_ATTRIBUTES_FROM_SYNC wrote them: on each status change."""
        s = self.s
        updates = [sa.REFRESH_STATUS.value_set(s.status.value)]
        if self._synced_status is None:
            updates += [
                sa.SUPPORT_TEAM.value_set(s.support_team),
                sa.REFRESH_STYLE.value_set(s.style),
                sa.CONFIG_ID.value_set(s.config_id),
                sa.EXISTING_SERIAL.value_set(s.existing_system.serial),
            ]
            if s.batch_id:
                updates.append(sa.BATCH_ID.value_set(s.batch_id))
        if s.replacement_system:
            updates.append(sa.REPLACEMENT_SERIAL.value_set(s.replacement_system.serial))
        if s.day1:
            updates.append(sa.DAY1.value_set(s.day1))
        workflow.upsert_search_attributes(updates)
        self._synced_status = s.status

    # ----- waiting -----------------------------------------------------------------------

    async def _wait(self, until: datetime | None = None, extra=None) -> None:
        """Sleep until state changes, `until` passes, or `extra()` turns true."""
        self.s.next_wakeup = until
        if self._dirty:
            await self._sync()
        timeout = None if until is None else until - workflow.now()
        if timeout is not None and timeout <= timedelta(0):
            self.s.next_wakeup = None
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._dirty or (extra is not None and extra()), timeout=timeout
            )
        self.s.next_wakeup = None

    async def _deadline_passed(self, name: Deadline) -> datetime | None:
        """The deadline's instant once it has passed (and it is dropped); else waits, None."""
        if self._due((name,)):
            return self.s.deadlines.pop(name)
        await self._wait(self.s.deadlines.get(name))
        return None

    def _due(self, names: Collection[Deadline]) -> Deadline | None:
        """The earliest of `names` that has passed."""
        now = workflow.now()
        due = [(t, n) for n, t in self.s.deadlines.items() if n in names and t <= now]
        return min(due)[1] if due else None

    def _earliest(self, names: Collection[Deadline]) -> datetime | None:
        times = [t for n, t in self.s.deadlines.items() if n in names]
        return min(times) if times else None

    def _clear(self, names: Collection[Deadline]) -> None:
        for name in names:
            self.s.deadlines.pop(name, None)

    async def _background(
        self, key: str, start: Callable[[], Awaitable[T]], until: datetime | None = None
    ) -> T | None:
        """Run a long-retrying activity across steps; return its result, or None on a change.

        The activity keeps running while unrelated messages arrive; it is cancelled only when
        the ticket leaves the status that started it (hold, cancel, reschedule).
        """
        task = self._running.get(key)
        if task is None:
            task = self._running[key] = asyncio.ensure_future(start())
        await self._wait(until, extra=task.done)
        if not task.done():
            return None
        self._running.pop(key, None)
        if task.cancelled():  # the ticket left the status that started it
            return None
        return task.result()

    async def _stop_background(self) -> None:
        for task in self._running.values():
            task.cancel()
        for task in self._running.values():
            with contextlib.suppress(asyncio.CancelledError, ActivityError):
                await task
        self._running.clear()

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        if self._history_limit and info.get_current_history_length() >= self._history_limit:
            return True
        return info.is_continue_as_new_suggested()
