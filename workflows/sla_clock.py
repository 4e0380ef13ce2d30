"""SlaClock: one durable clock per service-desk ticket, `sla-{itsm}-{ticket_id}` (seed 002).

Started and fed by signal-with-start (`ticket_event`) from the webhook and the catch-up poll.
The clock is a reconciler like RefreshTicket: each turn folds the events received into the
state (`domain.sla_clock`), tells the team of every milestone whose working instant has come
(warnings at the configured shares, the breach at 100 %), writes changed due dates back to the
ticket (`respondbydate`/`fixbydate`), and sleeps on one durable timer until the next milestone
or the next event. All instants come from pure interval arithmetic in `domain.sla`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr loads it lazily)

    from domain import search_attributes as sa
    from domain.activity_requests import EmailRequest, EmailResult, SlackRequest
    from domain.desk_messages import (
        ItsmAddNote,
        ItsmUpdate,
        LoadDesk,
        SlaProjection,
        clock_context,
        desk_ticket_key,
        ticket_context,
    )
    from domain.itsm import ItsmEvent, NewNote, Note, ServiceDeskTicket, TicketChange
    from domain.service_desk import ServiceDesk, language_of, route
    from domain.sla import Milestone
    from domain.sla_clock import (
        WORKFLOW_TYPE,
        ClockState,
        SlaClockInput,
        apply_event,
        due_milestones,
        earliest_due,
        refresh,
    )
    from workflows.desk_calls import RETRY, SHORT, activity, itsm_write, read_ticket_event

ITSM_REFUSALS_KEPT = 20
LINGER = timedelta(days=7)  # a closed ticket may reopen; late deliveries land here meanwhile


@workflow.defn(name=WORKFLOW_TYPE)
class SlaClock:
    def __init__(self) -> None:
        self.s: ClockState | None = None
        self.desk: ServiceDesk | None = None
        self.inbox: list[ItsmEvent] = []
        self.ticket: ServiceDeskTicket | None = None
        self._written: tuple[Any, Any] = (None, None)
        self._synced: tuple[Any, ...] | None = None

    @workflow.run
    async def run(self, inp: SlaClockInput) -> ClockState:
        self.s = inp.resume or ClockState(itsm=inp.itsm, ticket_id=inp.ticket_id)
        # Local: a database read every clock makes first, without a server round trip.
        self.desk = await workflow.execute_local_activity(
            "itsm_load_desk",
            LoadDesk(years=[workflow.now().year, workflow.now().year + 1]),
            result_type=ServiceDesk,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        await workflow.wait_condition(lambda: bool(self.inbox) or self.s.last_update is not None)
        if self.s.last_update is None and self._first_is_finished():
            return self.s  # a late delivery for a ticket long closed: nothing to time
        while True:
            self._take_inbox()
            await self._tell_due()
            await self._sync()
            if self.s.finished or self.s.targets is None:
                if not await self._wait(LINGER):
                    break
                continue
            if workflow.info().is_continue_as_new_suggested() and not self.inbox:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(inp.model_copy(update={"resume": self.s}))
            wake = self.s.next_wakeup
            await self._wait(None if wake is None else wake - workflow.now())
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s

    # ----- steps ----------------------------------------------------------------------------

    def _first_is_finished(self) -> bool:
        first = min(self.inbox, key=lambda e: e.order)
        return first.ticket.status.value in ("closed", "cancelled")

    def _take_inbox(self) -> None:
        s, desk = self._state, self._desk
        events, self.inbox = sorted(self.inbox, key=lambda e: e.order), []
        now = workflow.now()
        # Status changes ordered by the ITSM's own times (histories from before order them by
        # arrival, and replay so).
        timeline = workflow.patched("sla-status-timeline")
        for event in events:
            if self.ticket is None or event.ticket.updated_at >= self.ticket.updated_at:
                self.ticket = event.ticket
            apply_event(s, desk, event, now, desk.spec.warn_at_percent, timeline)
        refresh(s, desk.calendar, now)

    async def _tell_due(self) -> None:
        s, desk = self._state, self._desk
        now = workflow.now()
        due = due_milestones(s, desk.calendar, now)
        if due:
            await asyncio.gather(*(self._tell(m) for m in due))
            for m in due:
                m.notified_at = now
            refresh(s, desk.calendar, now)
        await self._write_back()

    async def _tell(self, m: Milestone) -> None:
        """Slack, email to each technician, and a note on the ticket: the team must know."""
        s, desk, t = self._state, self._desk, self._ticket
        breach = m.percent == 100
        # Before the routing is written back, the rules say which team it is.
        team = desk.team_by_itsm_name(s.team) or route(desk, t)[0]
        what = "breached" if breach else f"at {m.percent} %"
        text = (
            f"SLA {m.target.value} target {what} on {t.itsm} ticket {t.id} "
            f"({t.summary}); priority {s.priority}."
        )
        key = f"{desk_ticket_key(s.itsm, s.ticket_id)}:sla:{m.name}:{s.retargets}"
        work = [
            itsm_write(
                "itsm_add_note",
                ItsmAddNote(
                    itsm=s.itsm,
                    note=NewNote(key=key, ticket_id=s.ticket_id, text=f"deskflow: {text}"),
                ),
                Note,
                self._refused,
                f"note on the {m.target.value} target at {m.percent} %",
            )
        ]
        work.append(
            activity(
                "post_slack",
                SlackRequest(
                    key=key,
                    ticket_id=desk_ticket_key(s.itsm, s.ticket_id),
                    channel=team.slack_channel,
                    text=text,
                ),
                None,
            )
        )
        lang = language_of(desk, t)
        tz = desk.calendar.timezone
        extra = {
            **ticket_context(t, lang, tz),
            **clock_context(s, lang, tz),
            "target": m.target.value,
            "percent": m.percent,
            "team": team.name,
        }
        template = "sla_breach" if breach else "sla_warning"
        for tech in team.technicians:
            work.append(
                activity(
                    "send_email",
                    EmailRequest(
                        key=f"{key}:{tech.email}",
                        ticket_id=desk_ticket_key(s.itsm, s.ticket_id),
                        template=template,
                        audience="team",
                        to=str(tech.email),
                        extra=extra,
                    ),
                    EmailResult,
                )
            )
        await asyncio.gather(*work)

    async def _write_back(self) -> None:
        """Due dates on the ticket (Halo respondbydate/fixbydate), when they changed."""
        s = self._state
        dues = (s.response_due, s.resolution_due)
        if s.targets is None or dues == self._written or dues == (None, None):
            return
        self._written = dues
        stamp = "-".join(d.isoformat() if d else "none" for d in dues)
        change = TicketChange(
            key=f"{desk_ticket_key(s.itsm, s.ticket_id)}:due:{stamp}",
            ticket_id=s.ticket_id,
            respond_by=s.response_due,
            fix_by=s.resolution_due,
        )
        await itsm_write(
            "itsm_update_ticket",
            ItsmUpdate(itsm=s.itsm, change=change),
            ServiceDeskTicket,
            self._refused,
            "due dates write-back",
        )

    async def _sync(self) -> None:
        """Search attributes and the console's projection, when the clock's face changed."""
        s = self._state
        due = earliest_due(s)
        face = (s.state, due, s.response_left, s.resolution_left, s.status, s.priority, s.team)
        if face == self._synced:
            return
        self._synced = face
        workflow.upsert_search_attributes(
            [
                sa.SLA_STATE.value_set(s.state.value),
                sa.SLA_DUE_AT.value_set(due) if due else sa.SLA_DUE_AT.value_unset(),
            ]
        )
        await workflow.execute_local_activity(
            "project_sla_clock",
            SlaProjection(clock=s, due_at=due),
            start_to_close_timeout=SHORT,
        )

    async def _wait(self, timeout: timedelta | None) -> bool:
        """Sleep until an event arrives or `timeout` passes; True if an event came."""
        if timeout is not None and timeout <= timedelta(0):
            return bool(self.inbox)
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: bool(self.inbox), timeout=timeout)
        return bool(self.inbox)

    def _refused(self, reason: str) -> None:
        """An ITSM write refused for good: kept in the state the console and query show."""
        s = self._state
        s.itsm_refusals = [*s.itsm_refusals, reason][-ITSM_REFUSALS_KEPT:]

    # ----- messages ---------------------------------------------------------------------

    @workflow.signal(dynamic=True)
    def ticket_event(self, name: str, args: Sequence[RawValue]) -> None:
        event = read_ticket_event(name, args)
        if event is None:
            return
        s = self.s
        if s is not None and (event.itsm != s.itsm or event.ticket.id != s.ticket_id):
            workflow.logger.warning("event for another ticket dropped: %s", event.delivery_id)
            return
        self.inbox.append(event)

    @workflow.query
    def state(self) -> ClockState:
        return self._state

    # ----- bookkeeping ------------------------------------------------------------------

    @property
    def _state(self) -> ClockState:
        assert self.s is not None
        return self.s

    @property
    def _desk(self) -> ServiceDesk:
        assert self.desk is not None
        return self.desk

    @property
    def _ticket(self) -> ServiceDeskTicket:
        assert self.ticket is not None
        return self.ticket
