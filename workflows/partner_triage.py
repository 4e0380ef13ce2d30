"""PartnerTriage: `triage-{itsm}-{ticket_id}`, IT-partner triage of one new ticket (seed 003).

Fed by the same `ticket_event` signal-with-start as the ticket's other workflows. On first
sight it reads the ticket's notes and decides (`domain.partner_triage.decide`): a partner
ticket skips level 1 and goes straight to its escalation group; an end user of a partner's
department with a desktop ask is routed to the partner's support stream and told by email;
anything else stays with level 1. The decision and its rule are written on the ticket. It
then watches the ticket's assignment: a partner-escalated ticket moved back to the partner or
down to the Service Desk / Desktop Services is flagged on the ticket and reported to the
group lead with the rule, and too many reassignments alert the lead. Through deskflow
(`reassign`), a boomerang is refused outright by the validator.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr loads it lazily)

    from domain.activity_requests import EmailRequest, EmailResult
    from domain.desk_messages import ITSM_NAMES, ItsmAddNote, ItsmUpdate, desk_ticket_key
    from domain.itsm import FINISHED, ItsmEvent, NewNote, Note, ServiceDeskTicket, TicketChange
    from domain.outages import Refused
    from domain.partner_triage import (
        WORKFLOW_TYPE,
        CloseRedirected,
        NotesRequest,
        PartnerTriageSpec,
        Reassign,
        TriageDecision,
        TriageInput,
        TriageProjection,
        TriageRecord,
        boomerang,
        decide,
    )
    from workflows.desk_calls import tolerate_refusal

SHORT = timedelta(seconds=30)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))
LINGER = timedelta(days=7)
TEAM_WAIT = timedelta(minutes=5)  # let the desk's intake routing land first


@workflow.defn(name=WORKFLOW_TYPE)
class PartnerTriage:
    def __init__(self) -> None:
        self.spec: PartnerTriageSpec | None = None
        self.inbox: list[ItsmEvent] = []
        self.ticket: ServiceDeskTicket | None = None
        self.decision: TriageDecision | None = None
        self.decided_at: datetime | None = None
        self.team = ""
        self.echo: str | None = None  # the group we wrote, until a snapshot shows it
        self.reassignments = 0
        self.flags: list[str] = []
        self.log: list[str] = []

    @workflow.run
    async def run(self, inp: TriageInput) -> list[str]:
        self.spec = await self._activity("triage_load_spec", None, PartnerTriageSpec)
        await workflow.wait_condition(lambda: bool(self.inbox))
        first = min(self.inbox, key=lambda e: e.order).ticket
        self._take_inbox()
        notes = await self._activity(
            "triage_ticket_notes", NotesRequest(itsm=inp.itsm, ticket_id=inp.ticket_id), list[str]
        )
        self.decision = decide(self.spec, first, notes)
        self.decided_at = workflow.now()
        if not first.team and first.status not in FINISHED:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(self._has_team, timeout=TEAM_WAIT)
            self._take_inbox()
        await self._apply(self.decision)
        await self._project()
        while True:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: bool(self.inbox), timeout=LINGER if self._finished() else None
                )
            if not self.inbox:
                break  # finished and quiet for a week
            for ticket in self._take_inbox():
                await self._watch(ticket)
            if workflow.info().is_continue_as_new_suggested():
                break  # a later delivery starts a fresh watcher; the console row stays
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.log

    # ----- the decision and what follows ------------------------------------------------

    def _has_team(self) -> bool:
        return any(e.ticket.team for e in self.inbox)

    def _finished(self) -> bool:
        return self.ticket is not None and self.ticket.status in FINISHED

    def _take_inbox(self) -> list[ServiceDeskTicket]:
        """Newer ticket snapshots from the inbox, oldest first; stale ones are dropped.
        Snapshots of the same second keep the order they arrived in (the ITSM's order)."""
        events, self.inbox = sorted(self.inbox, key=lambda e: e.ticket.updated_at), []
        fresh = []
        for e in events:
            if self.ticket is None or e.ticket.updated_at >= self.ticket.updated_at:
                self.ticket = e.ticket
                fresh.append(e.ticket)
        return fresh

    async def _apply(self, d: TriageDecision) -> None:
        t = self._ticket
        key = f"triage-{t.itsm}-{t.id}"
        note = f"deskflow triage: {d.rule} [rule {d.rule_id}]"
        if d.group and d.group != t.team:
            change = TicketChange(key=f"{key}:route", ticket_id=t.id, team=d.group, note=note)
            saved = await self._write(
                "itsm_update_ticket",
                ItsmUpdate(itsm=t.itsm, change=change),
                ServiceDeskTicket,
                "routing",
            )
            if saved is not None and saved.updated_at >= t.updated_at:
                self.ticket = saved  # snapshots older than our own write are history
            self.team = self.echo = d.group
        else:
            await self._write(
                "itsm_add_note",
                ItsmAddNote(
                    itsm=t.itsm, note=NewNote(key=f"{key}:decision", ticket_id=t.id, text=note)
                ),
                Note,
                "decision note",
            )
            self.team = t.team
        self.log.append(f"{d.outcome} by rule {d.rule_id} -> {d.group or t.team or '-'}")
        if d.outcome == "redirect":
            await self._redirect(d)

    async def _redirect(self, d: TriageDecision) -> None:
        """Tell the end user where their support is; close it here if the partner works in
        another system."""
        t, spec = self._ticket, self._spec
        partner = spec.partner(d.partner_id)
        assert partner is not None
        if t.user.email:
            await self._activity(
                "send_email",
                EmailRequest(
                    key=f"triage-{t.itsm}-{t.id}:partner_redirect",
                    ticket_id=desk_ticket_key(t.itsm, t.id),
                    template="partner_redirect",
                    to=t.user.email,
                    extra={
                        "lang": "en",
                        "itsm": ITSM_NAMES[t.itsm],
                        "number": t.id,
                        "summary": t.summary,
                        "user_name": t.user.name,
                        "department": t.department,
                        "partner": partner.name,
                        "stream": partner.stream.model_dump(mode="json"),
                        "same_itsm": partner.same_itsm,
                    },
                ),
                EmailResult,
            )
            self.log.append(f"partner_redirect sent to {t.user.email}")
        else:
            self.flags.append("no end-user email for the redirect")
        if not partner.same_itsm:
            await self._activity(
                "triage_close_redirected",
                CloseRedirected(
                    itsm=t.itsm,
                    key=f"triage-{t.itsm}-{t.id}:redirected",
                    ticket_id=t.id,
                    notes=f"Routed to {partner.stream.name}: {d.rule}",
                ),
                ServiceDeskTicket,
            )

    async def _watch(self, t: ServiceDeskTicket) -> None:
        """A later snapshot of the ticket: a change of group is a reassignment. Deliveries
        come in the order the ITSM made them, so until one shows the group deskflow wrote,
        the snapshots were taken before that write and say nothing new."""
        if self.echo is not None:
            if t.team == self.echo:
                self.echo = None
            return
        if t.team == self.team or not t.team:
            return
        d, spec = self._decision, self._spec
        old, self.team = self.team, t.team
        self.reassignments += 1
        n = self.reassignments
        self.log.append(f"reassigned {old or '-'} -> {t.team}")
        bounced = boomerang(spec, d, t.team)
        if bounced is not None:
            rule_id, rule = bounced
            self.flags.append(f"{rule_id}: {old} -> {t.team}")
            await self._flag(t, f"boomerang-{n}", f"Boomerang flagged: moved to {t.team}", rule)
        if n == spec.reassignment_limit + 1:
            self.flags.append(f"reassigned {n} times")
            await self._flag(
                t,
                "reassignments",
                f"Reassigned {n} times",
                f"This ticket has been reassigned {n} times, over the limit of "
                f"{spec.reassignment_limit} (partner triage rules); the last move was {old or '-'}"
                f" -> {t.team}.",
            )
        await self._project()

    async def _flag(self, t: ServiceDeskTicket, purpose: str, title: str, rule: str) -> None:
        """Write the flag on the ticket and report it to the lead of the escalation group."""
        key = f"triage-{t.itsm}-{t.id}:{purpose}"
        lead = self._spec.lead_of(self._decision.group)
        await self._write(
            "itsm_add_note",
            ItsmAddNote(
                itsm=t.itsm,
                note=NewNote(
                    key=key,
                    ticket_id=t.id,
                    text=f"deskflow triage flag: {title}. {rule} Reported to {lead.name}.",
                ),
            ),
            Note,
            f"{purpose} flag",
        )
        await self._activity(
            "send_email",
            EmailRequest(
                key=f"{key}:lead",
                ticket_id=desk_ticket_key(t.itsm, t.id),
                template="triage_alert",
                audience="team",
                to=str(lead.email),
                extra={
                    "lang": "en",
                    "itsm": ITSM_NAMES[t.itsm],
                    "number": t.id,
                    "summary": t.summary,
                    "lead": lead.name,
                    "title": title,
                    "rule": rule,
                    "team": t.team,
                },
            ),
            EmailResult,
        )
        self.log.append(f"flagged: {title}")

    async def _project(self) -> None:
        t, d = self._ticket, self._decision
        record = TriageRecord(
            itsm=t.itsm,
            ticket_id=t.id,
            summary=t.summary,
            department=t.department,
            outcome=d.outcome,
            group=d.group,
            partner_id=d.partner_id,
            rule_id=d.rule_id,
            rule=d.rule,
            flags=self.flags,
            reassignments=self.reassignments,
        )
        assert self.decided_at is not None
        await self._activity(
            "project_triage", TriageProjection(record=record, decided_at=self.decided_at), None
        )

    def _write(self, name: str, arg: Any, result_type: Any, what: str):
        """A write to the ITSM; one refused for good (the ticket deleted) is logged, not fatal."""
        return tolerate_refusal(self._activity(name, arg, result_type), self.log.append, what)

    def _activity(self, name: str, arg: Any, result_type: Any):
        args = [] if arg is None else [arg]
        return workflow.execute_activity(
            name,
            args=args,
            result_type=result_type,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )

    # ----- messages -------------------------------------------------------------------------

    @workflow.signal(name="ticket_event")
    def ticket_event(self, event: ItsmEvent | None = None) -> None:
        if isinstance(event, ItsmEvent):  # a null payload decodes to None: dropped
            self.inbox.append(event)

    @workflow.update
    async def reassign(self, msg: Reassign) -> dict[str, object]:
        """Move the ticket to another group through deskflow (a boomerang is refused)."""
        t = self._ticket
        self.reassignments += 1
        change = TicketChange(
            key=f"triage-{t.itsm}-{t.id}:reassign:{self.reassignments}",
            ticket_id=t.id,
            team=msg.group,
            note=f"Reassigned to {msg.group} by {msg.by} through deskflow. {msg.reason}".strip(),
        )
        self.team = self.echo = msg.group
        await self._activity(
            "itsm_update_ticket", ItsmUpdate(itsm=t.itsm, change=change), ServiceDeskTicket
        )
        self.log.append(f"reassigned to {msg.group} by {msg.by}")
        await self._project()
        return {"ticket_id": t.id, "group": msg.group, "reassignments": self.reassignments}

    @reassign.validator
    def _check_reassign(self, msg: Reassign) -> None:
        if not isinstance(msg, Reassign):
            raise Refused("body: expected a Reassign object")
        if self.decision is None or self.spec is None or self.ticket is None:
            raise Refused("ticket_id: this ticket has not been triaged yet; try again shortly")
        bounced = boomerang(self.spec, self.decision, msg.group)
        if bounced is not None:
            raise Refused(f"group: {bounced[1]} [rule {bounced[0]}]")

    @workflow.query
    def state(self) -> dict[str, Any]:
        return {
            "ticket": None if self.ticket is None else self.ticket.model_dump(mode="json"),
            "decision": None if self.decision is None else self.decision.model_dump(mode="json"),
            "team": self.team,
            "reassignments": self.reassignments,
            "flags": self.flags,
            "log": self.log,
        }

    @property
    def _ticket(self) -> ServiceDeskTicket:
        assert self.ticket is not None
        return self.ticket

    @property
    def _decision(self) -> TriageDecision:
        assert self.decision is not None
        return self.decision

    @property
    def _spec(self) -> PartnerTriageSpec:
        assert self.spec is not None
        return self.spec
