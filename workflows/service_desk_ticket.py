"""ServiceDeskTicket: routing, technician notices and end-user emails of one ITSM ticket.

Seed 002's service-desk pillar, `desk-{itsm}-{ticket_id}`, fed by the same `ticket_event`
signals as its `SlaClock`. A new ticket is routed to its team by the rules in reference data
(the team and the rule are written back to the ticket), the team's technicians are told
(Slack and email), and the end user gets `ticket_created`. Afterwards each agent reply gets
the user `ticket_updated`, each end-user update is told to the technicians, and closing gets
the user `ticket_closed`. Each action id is handled once whatever the deliveries do, and every
send is keyed, so a repeated delivery or a retried activity sends nothing twice.
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

    from domain.activity_requests import EmailRequest, EmailResult, SlackRequest
    from domain.desk_dispatch import DESK_TICKET, DeskTicketInput
    from domain.desk_messages import (
        ItsmUpdate,
        LoadDesk,
        desk_ticket_key,
        ticket_context,
    )
    from domain.itsm import (
        FINISHED,
        ActionKind,
        ItsmEvent,
        ServiceDeskTicket,
        TicketAction,
        TicketChange,
    )
    from domain.service_desk import DeskTeam, ServiceDesk, language_of, route
    from workflows.desk_calls import RETRY, SHORT, activity, itsm_write, read_ticket_event

LINGER = timedelta(days=7)
SEEN_KEPT = 500


@workflow.defn(name=DESK_TICKET)
class DeskTicket:
    def __init__(self) -> None:
        self.desk: ServiceDesk | None = None
        self.inbox: list[ItsmEvent] = []
        self.ticket: ServiceDeskTicket | None = None
        self.team: DeskTeam | None = None
        self.seen: list[str] = []
        self.closures = 0
        self.log: list[str] = []

    @workflow.run
    async def run(self, inp: DeskTicketInput) -> list[str]:
        # Local: a database read every clock makes first, without a server round trip.
        self.desk = await workflow.execute_local_activity(
            "itsm_load_desk",
            LoadDesk(years=[workflow.now().year, workflow.now().year + 1]),
            result_type=ServiceDesk,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        while True:
            await workflow.wait_condition(lambda: bool(self.inbox))
            await self._handle(inp)
            if self.ticket is not None and self.ticket.status in FINISHED:
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(lambda: bool(self.inbox), timeout=LINGER)
                if not self.inbox:
                    break
            if workflow.info().is_continue_as_new_suggested() and not self.inbox:
                break  # the next delivery starts a fresh run; every send is keyed
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.log

    async def _handle(self, inp: DeskTicketInput) -> None:
        events, self.inbox = sorted(self.inbox, key=lambda e: e.order), []
        for event in events:
            newer = self.ticket is None or event.ticket.updated_at >= self.ticket.updated_at
            was = self.ticket
            if newer:
                self.ticket = event.ticket
            if was is None:
                await self._new_ticket(event)
            action = event.action
            if action is not None and action.id not in self.seen:
                self.seen = [*self.seen, action.id][-SEEN_KEPT:]
                await self._action(event.ticket, action)
            reopened_or_open = was is not None and was.status not in FINISHED
            if newer and reopened_or_open and event.ticket.status in FINISHED:
                await self._closed(event.ticket)

    async def _new_ticket(self, event: ItsmEvent) -> None:
        """First sight of the ticket: route it if it has no known team, tell people."""
        t, desk = event.ticket, self._desk
        self.team = desk.team_by_itsm_name(t.team)
        if self.team is None:
            self.team, rule = route(desk, t)
            self.log.append(f"routed to {self.team.id} by rule {rule + 1}")
            change = TicketChange(
                key=f"{self._key}:route",
                ticket_id=t.id,
                team=self.team.itsm_team,
                note=(
                    f"deskflow routed this ticket to {self.team.name}: routing rule {rule + 1} "
                    f"(type {t.kind.value}, category {t.category or '-'}, "
                    f"client {t.client or '-'})."
                ),
            )
            await itsm_write(
                "itsm_update_ticket",
                ItsmUpdate(itsm=t.itsm, change=change),
                ServiceDeskTicket,
                self.log.append,
                "routing write-back",
            )
        if t.status in FINISHED:
            return
        await asyncio.gather(
            self._tell_team(t, "new", f"New {t.kind.value.replace('_', ' ')}: {t.summary}"),
            self._email_user(t, "ticket_created", "created"),
        )

    async def _action(self, t: ServiceDeskTicket, a: TicketAction) -> None:
        if a.kind == ActionKind.agent_reply and a.to_user:
            await self._email_user(t, "ticket_updated", f"reply:{a.id}", message=a.text)
        elif a.kind == ActionKind.user_update:
            await self._tell_team(t, f"user:{a.id}", f"End user update: {a.text[:300]}")

    async def _closed(self, t: ServiceDeskTicket) -> None:
        self.closures += 1
        await self._email_user(t, "ticket_closed", f"closed:{self.closures}")

    # ----- sending ------------------------------------------------------------------------

    async def _tell_team(self, t: ServiceDeskTicket, purpose: str, text: str) -> None:
        team = self.team
        if team is None:
            return
        key = f"{self._key}:team:{purpose}"
        lang = language_of(self._desk, t)
        extra = {
            **ticket_context(t, lang, self._desk.calendar.timezone),
            "notice": text,
            "team": team.name,
        }
        work = [
            activity(
                "post_slack",
                SlackRequest(
                    key=key,
                    ticket_id=self._key,
                    channel=team.slack_channel,
                    text=f"{t.itsm} ticket {t.id} ({team.name}): {text}",
                ),
                None,
            )
        ]
        for tech in team.technicians:
            req = EmailRequest(
                key=f"{key}:{tech.email}",
                ticket_id=self._key,
                template="team_notice",
                audience="team",
                to=str(tech.email),
                extra=extra,
            )
            work.append(activity("send_email", req, EmailResult))
        await asyncio.gather(*work)
        self.log.append(f"team told: {purpose}")

    async def _email_user(
        self, t: ServiceDeskTicket, template: str, purpose: str, message: str = ""
    ) -> None:
        if not t.user.email:
            self.log.append(f"{template} not sent: the ticket's user has no email")
            return
        lang = language_of(self._desk, t)
        extra = {**ticket_context(t, lang, self._desk.calendar.timezone), "message": message}
        await activity(
            "send_email",
            EmailRequest(
                key=f"{self._key}:{purpose}",
                ticket_id=self._key,
                template=template,
                to=t.user.email,
                extra=extra,
            ),
            EmailResult,
        )
        self.log.append(f"{template} sent")

    # ----- messages ---------------------------------------------------------------------

    @workflow.signal(dynamic=True)
    def ticket_event(self, name: str, args: Sequence[RawValue]) -> None:
        event = read_ticket_event(name, args)
        if event is not None:
            self.inbox.append(event)

    @workflow.query
    def state(self) -> dict[str, Any]:
        t = self.ticket
        return {
            "ticket": None if t is None else t.model_dump(mode="json"),
            "team": None if self.team is None else self.team.id,
            "log": self.log,
        }

    @property
    def _desk(self) -> ServiceDesk:
        assert self.desk is not None
        return self.desk

    @property
    def _key(self) -> str:
        assert self.ticket is not None
        return desk_ticket_key(self.ticket.itsm, self.ticket.id)
