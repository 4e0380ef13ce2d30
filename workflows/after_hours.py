"""AfterHoursEscalation: a contract partner's call while CPS is closed (seed 004, first part).

`after-hours-{case_id}`, started from the help-desk agent's intake form. The call is checked
(partner known, CPS really closed, a non-AIMS emergency judged), then: HD-solvable or a
personal computer → a normal help-desk case, nothing else; otherwise an incident with the
minimum required information and HDQA notes in the EAST queue, and the customer told the
incident number, CPS hours and phone (email, and the same words on the agent's screen).

Critical → paging, one level at a time: the partner schedule's on-call technician, then the
next people on the schedule, then help-desk leadership, each level given the acknowledgement
timeout before the next. A level that does not answer is recorded as voicemail left.
`acknowledge` (from the page's link or the console) stops paging at once: the paging loop
wakes on it and never issues another page. Beside it, the one-hour callback promise is its own
durable timer: without `technician_contacted` by then, leadership and the agent are alerted
and the incident noted. Every timer is a Temporal timer, so a worker or server restart
changes nothing; every page carries the case's dedup key, so a retried page rings no one twice.

Handlers only validate and record; the run's coroutines do the side effects.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr loads it lazily)

    from domain import search_attributes as sa
    from domain.activity_requests import EmailRequest, EmailResult, SlackRequest
    from domain.after_hours import (
        SERVICE,
        WORKFLOW_TYPE,
        Acknowledge,
        AfterHoursDesk,
        Agent,
        Caller,
        CaseState,
        CaseStatus,
        Intake,
        LoadAfterHours,
        OpenTicket,
        Page,
        Promise,
        Resolve,
        SentEmail,
        TechnicianContacted,
        acknowledge_problem,
        contacted_problem,
        customer_words,
        decide,
        incident_details,
        intake_problems,
        local_text,
        page_summary,
        paging_order,
        promise_due,
        workflow_id,
    )
    from domain.desk_messages import ItsmAddNote
    from domain.itsm import NewNote, NewTicket, Note, Person, ServiceDeskTicket, TicketKind
    from domain.pagerduty import EventPayload, PageAccepted, PageEvent, PageRequest
    from workflows.desk_calls import tolerate_refusal

SHORT = timedelta(seconds=30)
PAGE_CALL = timedelta(seconds=15)  # a page lost with a dead worker is resent this soon
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=2))
LINGER = timedelta(days=2)  # an unanswered case is given up (and shown so) after two days
PLACEHOLDER_CALLER = Caller(name="unknown", phone="0000000", email="unknown@invalid.example")
PLACEHOLDER_AGENT = Agent(name="unknown", email="unknown@invalid.example")


def _rule(field: str, message: str) -> ApplicationError:
    return ApplicationError(f"{field}: {message}", type="RuleViolation")


def _parse(model: type, data: Any) -> Any:
    """An update's payload as its model, or a refusal naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "payload"
        raise _rule(field, err["msg"]) from None


@workflow.defn(name=WORKFLOW_TYPE)
class AfterHoursEscalation:
    @workflow.init
    def __init__(self, raw: Any) -> None:
        """State exists before the first task, so updates are checked against it at once.
        The input is taken raw and checked here: a bad start input refuses the case, never
        fails a workflow task."""
        self.intake: Intake | None = None
        problem: tuple[str, str] | None = None
        try:
            self.intake = Intake.model_validate(raw)
        except ValidationError as e:
            err = e.errors()[0]
            problem = (".".join(str(p) for p in err["loc"]) or "input", err["msg"])
        i = self.intake
        raw_case = raw.get("case_id") if isinstance(raw, dict) else None
        self.s = CaseState(
            case_id=i.case_id if i else str(raw_case or workflow.info().workflow_id)[:64],
            partner=i.partner if i else "",
            caller=i.caller if i else PLACEHOLDER_CALLER,
            agent=i.agent if i else PLACEHOLDER_AGENT,
            description=i.description if i else "",
            emergency_judgement=i.emergency_judgement if i else "",
            opened_at=workflow.now(),
            refusal=[problem] if problem else [],
            status=CaseStatus.refused if problem else CaseStatus.opening,
        )
        self.desk: AfterHoursDesk | None = None
        self.notes: list[tuple[str, str]] = []  # (key suffix, text) to write on the incident
        self.done_paging = False
        self.finished = False
        self._face: tuple[Any, ...] | None = None

    # ----- the run --------------------------------------------------------------------------

    @workflow.run
    async def run(self, raw: Any) -> CaseState:
        s = self.s
        if self.intake is None:
            s.log.append(f"refused: {s.refusal[0][0]}: {s.refusal[0][1]}")
            await self._sync()
            return s
        intake = self.intake
        now = workflow.now()
        self.desk = await self._act(
            "after_hours_load", LoadAfterHours(years=[now.year, now.year + 1]), AfterHoursDesk
        )
        desk = self.desk
        s.itsm = desk.itsm
        partner = desk.partner(intake.partner)
        if partner is not None:
            s.partner_name, s.partner_kind = partner.name, partner.kind
        problems = intake_problems(desk, intake, now)
        if problems:
            s.status, s.refusal = CaseStatus.refused, problems
            s.log.append("refused: " + "; ".join(f"{f}: {m}" for f, m in problems))
            await self._sync()
            return s
        assert partner is not None
        s.decision = decide(intake)
        if s.decision == "help_desk_case":
            await self._help_desk_case(intake)
            return s
        await self._incident(intake)
        if s.decision == "incident":
            s.status = CaseStatus.incident
            await self._sync()
            return s
        s.status = CaseStatus.paging
        s.order = paging_order(desk, partner, now)
        if not s.order:
            s.log.append("no one is on call on the partner's schedule now: leadership is paged")
        await asyncio.gather(self._page_levels(), self._keep_promise(), self._write_notes())
        await self._resolve_alerts()
        await self._sync()
        return s

    async def _help_desk_case(self, intake: Intake) -> None:
        """HD-solvable or a personal computer: a normal help-desk case and nothing else."""
        s, desk = self.s, self._desk
        why = "HD-solvable" if intake.hd_solvable else "personal computer"
        ticket = await self._open_ticket(
            NewTicket(
                key=f"{self._key}:ticket",
                summary=f"{s.partner_name}: {self._brief(intake)}",
                details=f"{intake.description}\n\nCaller: {intake.caller.name}, "
                f"{intake.caller.phone}\nHandled as a normal help-desk case ({why}).",
                client=s.partner_name,
                team=desk.spec.help_desk_team,
                user=Person(name=intake.caller.name, email=str(intake.caller.email)),
            )
        )
        s.incident, s.team, s.status = (
            ticket.id,
            desk.spec.help_desk_team,
            CaseStatus.help_desk_case,
        )
        s.log.append(f"normal help-desk case {ticket.id} ({why})")
        await self._sync()

    async def _incident(self, intake: Intake) -> None:
        """The incident in the EAST queue, and the customer told (email and read-out)."""
        s, desk = self.s, self._desk
        critical = s.decision == "page"
        ticket = await self._open_ticket(
            NewTicket(
                key=f"{self._key}:ticket",
                kind=TicketKind.incident,
                summary=f"{s.partner_name}: {self._brief(intake)}",
                details=incident_details(desk, intake, workflow.now()),
                client=s.partner_name,
                category=SERVICE,
                priority="1" if critical else "",
                team=desk.spec.east_queue,
                user=Person(name=intake.caller.name, email=str(intake.caller.email)),
            )
        )
        s.incident, s.team = ticket.id, desk.spec.east_queue
        s.read_out = customer_words(desk, ticket.id, critical)
        s.log.append(f"incident {ticket.id} assigned to {desk.spec.east_queue}")
        if critical:
            s.promise, s.promise_due = Promise.pending, promise_due(workflow.now(), desk)
        await self._sync()
        await self._email(
            "after_hours_incident",
            str(intake.caller.email),
            "customer",
            {
                "name": intake.caller.name,
                "incident": ticket.id,
                "words": s.read_out,
                "partner": s.partner_name,
            },
        )

    # ----- paging -----------------------------------------------------------------------------

    async def _page_levels(self) -> None:
        s, desk = self.s, self._desk
        timeout = timedelta(minutes=desk.spec.ack_timeout_minutes)
        levels: list[tuple[list[str], str]] = [
            ([p], "on_call" if i == 0 else "next") for i, p in enumerate(s.order)
        ]
        levels.append((list(desk.spec.leadership.people), "leadership"))
        first: datetime | None = None
        for level, (people, role) in enumerate(levels, start=1):
            if self._stop_paging():
                break
            first = first or workflow.now()
            await self._page(level, people, role)
            # Absolute deadlines from the first page: slow activities never stretch the ladder.
            deadline = first + timeout * level
            if await self._wait(self._stop_paging, deadline - workflow.now()):
                break
            now = workflow.now()
            for p in s.pages:
                if p.level == level and p.outcome == "ringing":
                    p.outcome, p.outcome_at = "voicemail", now
                    s.log.append(f"no answer from {p.name} in {timeout}: voicemail left")
            await self._sync()
        self.done_paging = True
        await self._sync()
        await self._wait(lambda: self._stop_paging() or self.finished, None)
        if self.s.acknowledged_by is not None:
            await self._stand_down()

    def _stop_paging(self) -> bool:
        s = self.s
        return (
            s.acknowledged_by is not None
            or s.contacted_at is not None
            or s.status in (CaseStatus.resolved, CaseStatus.unanswered)
        )

    async def _page(self, level: int, people: list[str], role: str) -> None:
        s, desk, intake = self.s, self._desk, self._intake
        now = workflow.now()
        summary = page_summary(intake, s.incident or s.case_id)
        sends = []
        for person in people:
            r = desk.responder(person)
            assert r is not None  # checked on load
            s.pages.append(
                Page(level=level, person=person, name=r.name, role=role, paged_at=now)  # type: ignore[arg-type]
            )
            s.log.append(
                f"paged {r.name} ({role.replace('_', ' ')}) at {local_text(now, desk.timezone)}"
            )
            event = PageEvent(
                routing_key=r.routing_key,
                event_action="trigger",
                dedup_key=self._key,
                payload=EventPayload(
                    summary=summary,
                    source="deskflow after-hours",
                    severity="critical",
                    custom_details={
                        "case": s.incident,
                        "customer": intake.caller.name,
                        "phone": intake.caller.phone,
                        "description": intake.description[:500],
                        "partner": s.partner_name,
                        "on_call": r.name,
                        "level": level,
                    },
                ),
            )
            req = PageRequest(event=event, case_id=s.case_id, person=person)
            sends.append(self._act("pagerduty_event", req, PageAccepted))
        if role == "leadership":
            s.status = CaseStatus.leadership
        await self._sync()
        if role == "leadership":
            sends.append(self._tell_leadership("paged", self._leadership_text()))
        await asyncio.gather(*sends)

    def _leadership_text(self) -> str:
        s = self.s
        tried = ", ".join(p.name for p in s.pages if p.role != "leadership") or "no one"
        return (
            f"After-hours case {s.incident} ({s.partner_name}): no technician acknowledged "
            f"(paged: {tried}). Customer {s.caller.name}, {s.caller.phone}: "
            f"{s.description[:300]}"
        )

    async def _stand_down(self) -> None:
        """Tell PagerDuty: the acknowledger's alert acknowledged, everyone else's resolved."""
        s, desk = self.s, self._desk
        sends = []
        for person in sorted(s.paged()):
            r = desk.responder(person)
            assert r is not None
            action = "acknowledge" if person == s.acknowledged_by else "resolve"
            event = PageEvent(routing_key=r.routing_key, event_action=action, dedup_key=self._key)
            sends.append(self._act("pagerduty_event", PageRequest(event=event), PageAccepted))
        await asyncio.gather(*sends)

    # ----- the one-hour promise -------------------------------------------------------------

    async def _keep_promise(self) -> None:
        s = self.s
        assert s.promise_due is not None
        kept = await self._wait(
            lambda: s.contacted_at is not None or s.status == CaseStatus.resolved,
            s.promise_due - workflow.now(),
        )
        if kept:
            return
        s.promise = Promise.missed
        due = local_text(s.promise_due, self._desk.timezone)
        text = (
            f"After-hours case {s.incident} ({s.partner_name}): no technician has reached "
            f"{s.caller.name} ({s.caller.phone}) by {due}, the callback promised within the hour."
        )
        s.alerts.append(f"promise missed at {due}: leadership and the agent alerted")
        s.log.append(f"callback promise missed at {due}")
        self.notes.append(("promise-missed", f"deskflow: {text}"))
        await self._sync()
        await asyncio.gather(
            self._tell_leadership("promise-missed", text),
            self._email(
                "after_hours_promise_missed",
                str(s.agent.email),
                "agent",
                {"name": s.agent.name, "text": text, "incident": s.incident},
            ),
        )

    # ----- notes, and the end -----------------------------------------------------------------

    async def _write_notes(self) -> None:
        """Write queued notes on the incident as they come, until the case is over (or given
        up two days after the call), then let the paging loop finish."""
        s = self.s
        give_up = s.opened_at + LINGER
        while True:
            await self._wait(lambda: bool(self.notes) or self._over(), give_up - workflow.now())
            notes, self.notes = self.notes, []
            await asyncio.gather(*(self._note(suffix, text) for suffix, text in notes))
            if self.notes:
                continue
            if self._over():
                break
            if workflow.now() >= give_up:
                s.status, s.resolved_at = CaseStatus.unanswered, workflow.now()
                s.log.append("given up two days after the call without a callback")
                break
        self.finished = True
        await self._sync()

    def _note(self, suffix: str, text: str):
        """A note on the incident; one the ITSM refuses for good (the incident deleted) is
        logged on the case instead of failing the escalation."""
        write = self._act(
            "itsm_add_note",
            ItsmAddNote(
                itsm=self.s.itsm,  # type: ignore[arg-type]
                note=NewNote(
                    key=f"{self._key}:note:{suffix}", ticket_id=self.s.incident or "", text=text
                ),
            ),
            Note,
        )
        return tolerate_refusal(write, self.s.log.append, f"note {suffix}")

    def _over(self) -> bool:
        s = self.s
        return (
            s.status in (CaseStatus.resolved, CaseStatus.unanswered) or s.contacted_at is not None
        )

    async def _resolve_alerts(self) -> None:
        s, desk = self.s, self._desk
        sends = []
        for person in sorted(s.paged()):
            r = desk.responder(person)
            assert r is not None
            event = PageEvent(
                routing_key=r.routing_key, event_action="resolve", dedup_key=self._key
            )
            sends.append(self._act("pagerduty_event", PageRequest(event=event), PageAccepted))
        await asyncio.gather(*sends)

    # ----- updates and the query ----------------------------------------------------------

    @workflow.update(name="acknowledge")
    def acknowledge(self, data: Any) -> CaseState:
        msg: Acknowledge = _parse(Acknowledge, data)
        s, now = self.s, workflow.now()
        if s.acknowledged_by == msg.by:
            return s
        s.acknowledged_by, s.acknowledged_at = msg.by, now
        for p in s.pages:
            if p.person == msg.by and p.outcome in ("ringing", "voicemail"):
                p.outcome, p.outcome_at = "acknowledged", now
            elif p.outcome == "ringing":
                p.outcome, p.outcome_at = "stood_down", now
        name = next(p.name for p in s.pages if p.person == msg.by)
        if s.status in (CaseStatus.paging, CaseStatus.leadership):
            s.status = CaseStatus.acknowledged
        s.log.append(f"acknowledged by {name} at {local_text(now, self._desk.timezone)}")
        self.notes.append(("ack", f"deskflow: {name} acknowledged the after-hours page."))
        return s

    @acknowledge.validator
    def _check_acknowledge(self, data: Any) -> None:
        msg: Acknowledge = _parse(Acknowledge, data)
        problem = acknowledge_problem(self.s, msg.by)
        if problem:
            raise _rule("by", problem)

    @workflow.update(name="technician_contacted")
    def technician_contacted(self, data: Any) -> CaseState:
        msg: TechnicianContacted = _parse(TechnicianContacted, data)
        s, now = self.s, workflow.now()
        if s.contacted_at is not None:
            return s
        s.contacted_by, s.contacted_at = msg.by, now
        if s.promise == Promise.pending:
            s.promise = Promise.kept if s.promise_due and now <= s.promise_due else Promise.missed
        if s.status != CaseStatus.resolved:
            s.status = CaseStatus.contacted
        who = self._name(msg.by)
        at = local_text(now, self._desk.timezone)
        s.log.append(f"{who} reached the customer at {at}")
        text = f"deskflow: {who} reached the customer at {at}. {msg.note}".strip()
        self.notes.append(("contacted", text))
        return s

    @technician_contacted.validator
    def _check_contacted(self, data: Any) -> None:
        msg: TechnicianContacted = _parse(TechnicianContacted, data)
        problem = contacted_problem(self.s, msg.by)
        if problem:
            raise _rule("by", problem)
        if self.desk is None or self.desk.responder(msg.by) is None:
            raise _rule("by", f"{msg.by!r} is not a responder of the after-hours schedules")

    @workflow.update(name="resolve")
    def resolve(self, data: Any) -> CaseState:
        msg: Resolve = _parse(Resolve, data)
        s, now = self.s, workflow.now()
        s.status, s.resolved_at = CaseStatus.resolved, now
        s.log.append(f"resolved by {msg.by} at {local_text(now, self._desk.timezone)}")
        if s.promise == Promise.pending:
            s.promise = Promise.kept if s.contacted_at else Promise.none
        self.notes.append(
            ("resolved", f"deskflow: after-hours case resolved by {msg.by}. {msg.note}".strip())
        )
        return s

    @resolve.validator
    def _check_resolve(self, data: Any) -> None:
        _parse(Resolve, data)
        s = self.s
        if s.decision != "page":
            raise _rule("case", "only a paged case has an after-hours part to resolve")
        if s.status in (CaseStatus.resolved, CaseStatus.unanswered):
            raise _rule("case", f"the case is already {s.status.value}")

    @workflow.query
    def state(self) -> CaseState:
        return self.s

    # ----- plumbing ------------------------------------------------------------------------

    async def _sync(self) -> None:
        """Search attributes and the leads' projection, when the case's face changed."""
        s = self.s
        pending = [p.paged_at for p in s.pages if p.outcome == "ringing"]
        timeout = timedelta(minutes=self.desk.spec.ack_timeout_minutes) if self.desk else None
        wakes: list[datetime] = []
        if pending and timeout and not self.done_paging:
            wakes.append(max(pending) + timeout)
        if s.promise == Promise.pending and s.promise_due:
            wakes.append(s.promise_due)
        s.next_wakeup = min(wakes) if wakes else None
        face = (s.model_dump_json(exclude={"revision"}),)
        if face == self._face:
            return
        self._face = face
        s.revision += 1
        workflow.upsert_search_attributes(
            [
                sa.AFTER_HOURS_STATUS.value_set(s.status.value),
                sa.CONTRACT_PARTNER.value_set([s.partner or "unknown"]),
            ]
        )
        await self._act("project_after_hours", s.model_copy(deep=True), None)

    async def _wait(self, condition: Any, timeout: timedelta | None) -> bool:
        if timeout is not None and timeout <= timedelta(0):
            return bool(condition())
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(condition, timeout=timeout)
        return bool(condition())

    async def _open_ticket(self, new: NewTicket) -> ServiceDeskTicket:
        return await self._act(
            "after_hours_open_ticket",
            OpenTicket(itsm=self._desk.itsm, ticket=new),
            ServiceDeskTicket,
        )

    async def _email(self, template: str, to: str, purpose: str, extra: dict[str, Any]) -> None:
        result: EmailResult = await self._act(
            "send_email",
            EmailRequest(
                key=f"{self._key}:{purpose}",
                ticket_id=self._key,
                template=template,
                audience="team" if purpose != "customer" else "customer",
                to=to,
                extra=extra,
            ),
            EmailResult,
        )
        self.s.emails.append(SentEmail(template=template, to=result.to, at=result.sent_at))
        await self._sync()

    async def _tell_leadership(self, purpose: str, text: str) -> None:
        s, desk = self.s, self._desk
        work = [
            self._act(
                "post_slack",
                SlackRequest(
                    key=f"{self._key}:lead:{purpose}",
                    ticket_id=self._key,
                    channel=desk.spec.leadership.slack_channel,
                    text=text,
                ),
                None,
            )
        ]
        for person in desk.spec.leadership.people:
            r = desk.responder(person)
            assert r is not None
            work.append(
                self._email(
                    "after_hours_leadership",
                    str(r.email),
                    f"lead:{purpose}:{person}",
                    {"name": r.name, "text": text, "incident": s.incident},
                )
            )
        await asyncio.gather(*work)
        s.alerts.append(f"leadership told ({purpose.replace('-', ' ')})")

    def _act(self, name: str, arg: Any, result_type: Any):
        timeout = PAGE_CALL if name == "pagerduty_event" else SHORT
        return workflow.execute_activity(
            name, arg, result_type=result_type, start_to_close_timeout=timeout, retry_policy=RETRY
        )

    def _name(self, person: str) -> str:
        r = self._desk.responder(person)
        return r.name if r else person

    @staticmethod
    def _brief(intake: Intake) -> str:
        return " ".join(intake.description.split())[:120]

    @property
    def _key(self) -> str:
        return workflow_id(self.s.case_id)

    @property
    def _desk(self) -> AfterHoursDesk:
        assert self.desk is not None
        return self.desk

    @property
    def _intake(self) -> Intake:
        assert self.intake is not None
        return self.intake
