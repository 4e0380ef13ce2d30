"""ProvisioningIntake: one Halo provisioning ticket from category 7 or 8 to close (seed 000).

`provisioning-{halo_ticket_id}`, started and fed like the SLA clock by `ticket_event` signals
from the Halo webhook and the catch-up poll, and driven by staff through validated updates:
`equipment_received` (Procurement: 7 → 8A, Care Team), `set_subcategory` (8D confirmed as A,
B or C by the Provisioning Specialist, reminded every 2 business days until then), `assign`,
`submit_details` (Exhibit A), `log_time` (the work-type rule), `reclassify_as_repair` and
`request_close`. Every decision is written back to the Halo ticket with its reason.

The two Exhibit A passwords arrive inside the `submit_details` payload (encrypted by the
payload codec), go straight to the `provisioning_save_details` activity (which encrypts them
at rest and fills Halo's provisioning tab) and are never kept in the workflow's state, its
search attributes, audits, notes, emails or error messages.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr loads it lazily)

    from domain import search_attributes as sa
    from domain.activity_requests import EmailRequest, EmailResult, SlackRequest
    from domain.desk_messages import ItsmAddNote, ItsmUpdate
    from domain.itsm import (
        FINISHED,
        ActionKind,
        ItsmEvent,
        NewNote,
        Note,
        ServiceDeskTicket,
        TicketChange,
        TicketKind,
        TicketStatus,
        TimeEntry,
    )
    from domain.provisioning import (
        CLOSE_REASON,
        REPAIR_CATEGORY,
        ROLE_WORDS,
        SUBCATEGORY_NAMES,
        WORKFLOW_TYPE,
        Actor,
        Assign,
        Audit,
        Contact,
        EquipmentReceived,
        EraseSecrets,
        ExhibitInvalid,
        IntakeInput,
        IntakeState,
        LogTime,
        Projection,
        ReclassifyAsRepair,
        RecordTime,
        RequestClose,
        ResolveTicket,
        Role,
        SaveDetails,
        SetSubcategory,
        Setup,
        Status,
        Subcategory,
        TimeRecord,
        WorkType,
        category_of,
        halo_category,
        parse_hours,
        parse_submission,
        validate_exhibit,
        work_type_problem,
    )
    from workflows.desk_calls import tolerate_refusal

SHORT = timedelta(seconds=30)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))
LINGER = timedelta(days=7)  # a closed ticket may be reopened in Halo
REPAIR_LINGER = timedelta(days=30)  # a repair leaves category 8: Halo stops telling us of it
SEEN_KEPT = 1000
OPEN = (Status.care_team_review, Status.pending_confirmation, Status.provisioning)
WORKERS = (Role.analyst, Role.care_team, Role.provisioning_specialist)


def _refuse(message: str, field: str | None = None) -> ApplicationError:
    return ApplicationError(message, {"field": field} if field else None, type="Refused")


def _need(by: Actor, *roles: Role) -> None:
    if not any(r in by.roles for r in roles):
        words = " or ".join(ROLE_WORDS[r] for r in roles)
        raise _refuse(f"only the {words} may do this (by.roles)", "by.roles")


@workflow.defn(name=WORKFLOW_TYPE)
class ProvisioningIntake:
    def __init__(self) -> None:
        self.s: IntakeState | None = None
        self.setup: Setup | None = None
        self.ticket: ServiceDeskTicket | None = None
        self.inbox: list[ItsmEvent] = []
        self.lock = asyncio.Lock()
        self._synced: str | None = None  # the state last projected

    @workflow.run
    async def run(self, inp: IntakeInput) -> IntakeState | None:
        self.s = inp.resume
        self.setup = await workflow.execute_activity(
            "provisioning_setup",
            inp.halo_ticket_id,
            result_type=Setup,
            start_to_close_timeout=SHORT,
            retry_policy=RETRY,
        )
        while True:
            wake = self._next_wakeup()
            if self.s is not None:
                self.s.next_wakeup = wake
            timeout = None if wake is None else max(wake - workflow.now(), timedelta(0))
            if self.s is not None and self.s.status == Status.closed:
                timeout = LINGER
            elif self.s is not None and self.s.status == Status.repair:
                timeout = REPAIR_LINGER
            got = await self._wait(timeout)
            async with self.lock:
                if got:
                    await self._take_inbox(inp)
                if self.s is None:
                    return None  # not a provisioning ticket (or long closed): nothing to do
                if not got and self.s.status in (Status.closed, Status.repair):
                    break
                await self._remind_if_due()
                await self._sync()
            if workflow.info().is_continue_as_new_suggested() and not self.inbox:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(inp.model_copy(update={"resume": self.s}))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.s

    async def _wait(self, timeout: timedelta | None) -> bool:
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: bool(self.inbox), timeout=timeout)
        return bool(self.inbox)

    # ----- Halo events ----------------------------------------------------------------------

    async def _take_inbox(self, inp: IntakeInput) -> None:
        events, self.inbox = sorted(self.inbox, key=lambda e: e.order), []
        for event in events:
            t = event.ticket
            newer = self.ticket is None or t.updated_at >= self.ticket.updated_at
            if self.s is None:
                if not self._first_sight(inp, t):
                    return
                if self._state.status == Status.pending_confirmation:
                    await self._to_confirmation()
            elif newer:
                await self._category_seen(t)
            if newer:
                self.ticket = t
                self._state.summary, self._state.client = t.summary, t.client
                self._state.updated_at = t.updated_at
            action = event.action
            if action is not None and action.id not in self._state.seen_actions:
                self._state.seen_actions = [*self._state.seen_actions, action.id][-SEEN_KEPT:]
                if action.time is not None and action.time.hours > 0:
                    await self._halo_time(t, action.id, action.at, action.by, action.time)
                if action.kind == ActionKind.closed or t.status in FINISHED:
                    await self._closed_in_halo(t, action.id)
            elif action is None and newer and t.status in FINISHED:
                await self._closed_in_halo(t, f"close@{t.updated_at.isoformat()}")

    def _first_sight(self, inp: IntakeInput, t: ServiceDeskTicket) -> bool:
        number, sub = category_of(t.category)
        if number is None or t.status in FINISHED:
            return False
        spec = self._setup.spec
        s = IntakeState(
            halo_ticket_id=inp.halo_ticket_id,
            category=number,
            subcategory=sub,
            summary=t.summary,
            client=t.client,
            opened_at=t.opened_at,
        )
        if number == 7:
            s.status = Status.procurement
        elif sub == Subcategory.D:
            s.status = Status.pending_confirmation
        else:
            s.status = Status.care_team_review if t.team == spec.care_team else Status.provisioning
        self.s = s
        self._audit("halo", "opened", f"category {t.category}")
        return True

    async def _category_seen(self, t: ServiceDeskTicket) -> None:
        """A category change made in Halo (Procurement or the specialist working there)."""
        s = self._state
        number, sub = category_of(t.category)
        if (number, sub) == (s.category, s.subcategory) or s.status in (
            Status.closed,
            Status.repair,
        ):
            return
        if number is None:
            s.status, s.category, s.subcategory = Status.repair, None, None
            self._audit("halo", "left category 8", f"now {t.category}")
            return
        if number == 7:
            return
        was = s.status
        s.category, s.subcategory = 8, sub
        self._audit("halo", "category changed", f"now {t.category}")
        if was == Status.procurement:
            await self._to_care_team(t, "changed to category 8 in Halo")
            if sub == Subcategory.D:
                await self._to_confirmation()
            return
        await self._subcategory_now(sub, was)

    async def _to_care_team(self, t: ServiceDeskTicket | None, why: str) -> None:
        """8A after procurement: the Care Team reviews and assigns (team set if it is not)."""
        s, spec = self._state, self._setup.spec
        s.status = Status.care_team_review
        if t is not None and t.team != spec.care_team:
            change = TicketChange(
                key=f"{self._key}:care-team",
                ticket_id=s.halo_ticket_id,
                team=spec.care_team,
                note=(
                    f"deskflow: equipment received ({why}); assigned to the {spec.care_team} "
                    "to review and assign to an analyst or engineer."
                ),
            )
            await self._activity("itsm_update_ticket", ItsmUpdate(itsm="halo", change=change))
        await self._tell(
            spec.care_team_contacts,
            "care-team",
            f"Equipment received: Halo ticket {s.halo_ticket_id} is now 8A and waits for the "
            f"{spec.care_team} to assign an analyst or engineer.",
        )

    async def _to_confirmation(self) -> None:
        s = self._state
        s.status = Status.pending_confirmation
        s.confirmation_since = workflow.now()
        s.reminders_sent = 0
        names = ", ".join(p.name for p in self._setup.spec.specialists)
        note = NewNote(
            key=f"{self._key}:confirm:{len(s.audits)}",
            ticket_id=s.halo_ticket_id,
            text=f"deskflow: 8D (to be determined): the Provisioning Specialist ({names}) "
            "confirms with Procurement whether this is 8A, 8B or 8C; reminded every "
            f"{self._setup.spec.reminder_business_days} business days until then.",
        )
        await self._activity("itsm_add_note", ItsmAddNote(itsm="halo", note=note), Note)
        await self._tell(
            self._setup.spec.specialists,
            f"confirm:{len(s.audits)}",
            f"Halo ticket {s.halo_ticket_id} is 8D (to be determined): please confirm with "
            "Procurement whether it is 8A, 8B or 8C and set it in deskflow or Halo.",
        )

    async def _subcategory_now(self, sub: Subcategory | None, was: Status | None) -> None:
        s = self._state
        if sub == Subcategory.D:
            if was != Status.pending_confirmation:
                await self._to_confirmation()
            return
        if was == Status.pending_confirmation:
            s.confirmation_since = None
            s.status = Status.provisioning if s.analyst else Status.care_team_review

    async def _halo_time(
        self, t: ServiceDeskTicket, action_id: str, at: datetime, by: str, time: TimeEntry
    ) -> None:
        """A time entry made in Halo: recorded for the gauge; flagged if its type is wrong."""
        s, setup = self._state, self._setup
        name = setup.work_type_name(time.work_type_id) or time.work_type
        provisioning = s.status in OPEN or (s.status == Status.closed and s.category == 8)
        problem = None
        if provisioning or s.status == Status.repair:  # category 7's time is not governed
            problem = work_type_problem(name, s.status or Status.provisioning, setup.spec)
        entry = TimeRecord(
            id=action_id,
            at=at,
            analyst=s.analyst or by,
            hours=time.hours,
            work_type=name,
            work_type_id=time.work_type_id,
            category8=provisioning,
            flagged=problem is not None,
        )
        await self._record(entry)
        if problem is None:
            return
        self._audit("deskflow", "work type flagged", f"time entry {action_id}: {name}")
        note = NewNote(
            key=f"{self._key}:flag:{action_id}",
            ticket_id=s.halo_ticket_id,
            text=f"deskflow: the time entry of {by or 'an agent'} uses the work type "
            f"“{name}”. {problem} Please change it before closing.",
        )
        await self._activity("itsm_add_note", ItsmAddNote(itsm="halo", note=note), Note)
        person = self._analyst_contact()
        await self._tell(
            [person] if person else self._setup.spec.care_team_contacts,
            f"flag:{action_id}",
            f"Halo ticket {s.halo_ticket_id}: your time entry uses “{name}”. {problem}",
        )

    async def _closed_in_halo(self, t: ServiceDeskTicket, close_id: str) -> None:
        s, spec = self._state, self._setup.spec
        if s.status == Status.closed or t.status not in FINISHED:
            return
        if s.status == Status.repair or s.has_provisioning_time(spec):
            await self._finish("halo")
            return
        s.reopened += 1
        self._audit("deskflow", "reopened", "closed in Halo without Provisioning and Imaging time")
        change = TicketChange(
            key=f"{self._key}:reopen:{close_id}",
            ticket_id=s.halo_ticket_id,
            status=TicketStatus.in_progress,
            note=f"deskflow reopened this ticket: {CLOSE_REASON} Enter the time with that "
            "work type, then close it again.",
        )
        await self._activity("itsm_update_ticket", ItsmUpdate(itsm="halo", change=change))
        person = self._analyst_contact()
        await self._tell(
            [person] if person else spec.care_team_contacts,
            f"reopen:{close_id}",
            f"Halo ticket {s.halo_ticket_id} was reopened: {CLOSE_REASON}",
        )

    async def _finish(self, by: str) -> None:
        """Closed: deskflow's copy of the passwords is erased, then the ticket is done."""
        s = self._state
        await self._activity(
            "provisioning_erase_secrets", EraseSecrets(halo_ticket_id=s.halo_ticket_id)
        )
        if s.details is not None:
            s.details = s.details.model_copy(update={"passwords_recorded": False})
        self._audit(by, "closed", "")
        self._audit("deskflow", "passwords erased", "")
        s.status, s.closed_at = Status.closed, workflow.now()

    # ----- reminders ------------------------------------------------------------------------

    def _next_wakeup(self) -> datetime | None:
        s = self.s
        if s is None or s.status != Status.pending_confirmation or s.confirmation_since is None:
            return None
        days = self._setup.spec.reminder_business_days * (s.reminders_sent + 1)
        return self._setup.calendar.business_days_after(s.confirmation_since, days)

    async def _remind_if_due(self) -> None:
        wake = self._next_wakeup()
        if wake is None or workflow.now() < wake:
            return
        s = self._state
        s.reminders_sent += 1
        self._audit("deskflow", "specialist reminded", f"reminder {s.reminders_sent}")
        await self._tell(
            self._setup.spec.specialists,
            f"remind:{s.reminders_sent}",
            f"Reminder: Halo ticket {s.halo_ticket_id} is still 8D (to be determined). Please "
            "confirm 8A, 8B or 8C with Procurement.",
        )

    # ----- updates ----------------------------------------------------------------------------

    def _ready(self, *statuses: Status) -> IntakeState:
        if self.s is None or self.setup is None:
            raise _refuse("this ticket is still starting; try again in a moment")
        if statuses and self.s.status not in statuses:
            now = self.s.status.value if self.s.status else "unknown"
            allowed = ", ".join(x.value for x in statuses)
            raise _refuse(f"not possible while the ticket is {now} (only when {allowed})")
        return self.s

    @workflow.update
    async def equipment_received(self, u: EquipmentReceived) -> IntakeState:
        async with self.lock:
            s = self._ready(Status.procurement)
            s.category, s.subcategory = 8, Subcategory.A
            change = TicketChange(
                key=f"{self._key}:equipment-received",
                ticket_id=s.halo_ticket_id,
                category=halo_category(Subcategory.A),
                category_id=self._setup.spec.category_id("8A"),
                team=self._setup.spec.care_team,
                note=f"deskflow: equipment received (recorded by {u.by.name or u.by.username}"
                f"{': ' + u.note if u.note else ''}); moved to 8. Provisioning – "
                f"{SUBCATEGORY_NAMES[Subcategory.A]} and assigned to the "
                f"{self._setup.spec.care_team}.",
            )
            await self._activity("itsm_update_ticket", ItsmUpdate(itsm="halo", change=change))
            self._audit(u.by.username, "equipment received", "7 → 8A, Care Team")
            await self._to_care_team(None, "recorded in deskflow")
            await self._sync()
            return s

    @equipment_received.validator
    def _v_equipment(self, u: EquipmentReceived) -> None:
        _need(u.by, Role.procurement)
        self._ready(Status.procurement)

    @workflow.update
    async def set_subcategory(self, u: SetSubcategory) -> IntakeState:
        async with self.lock:
            self._v_subcategory(u)  # again: another update may have changed the ticket
            s = self._state
            sub = Subcategory(u.subcategory.strip().upper())
            was = s.status
            s.category, s.subcategory = 8, sub
            change = TicketChange(
                key=f"{self._key}:subcategory:{len(s.audits)}",
                ticket_id=s.halo_ticket_id,
                category=halo_category(sub),
                category_id=self._setup.spec.category_id(f"8{sub.value}"),
                note=f"deskflow: subcategory set to {SUBCATEGORY_NAMES[sub]} by "
                f"{u.by.name or u.by.username}.",
            )
            await self._activity("itsm_update_ticket", ItsmUpdate(itsm="halo", change=change))
            self._audit(u.by.username, "subcategory set", sub.value)
            await self._subcategory_now(sub, was)
            await self._sync()
            return s

    @set_subcategory.validator
    def _v_subcategory(self, u: SetSubcategory) -> None:
        s = self._ready(*OPEN)
        if u.subcategory.strip().upper() not in Subcategory.__members__:
            raise _refuse(
                "unknown subcategory: use A (CIT procured new), B (client procured new), "
                "C (existing equipment reprovision) or D (to be determined)",
                "subcategory",
            )
        if s.status == Status.pending_confirmation:
            _need(u.by, Role.provisioning_specialist)
        else:
            _need(u.by, *WORKERS)

    @workflow.update
    async def assign(self, u: Assign) -> IntakeState:
        async with self.lock:
            self._v_assign(u)
            s = self._state
            s.analyst, s.analyst_name, s.analyst_email = u.analyst, u.analyst_name, u.analyst_email
            s.halo_agent_id = u.halo_agent_id or s.halo_agent_id
            change = TicketChange(
                key=f"{self._key}:assign:{len(s.audits)}",
                ticket_id=s.halo_ticket_id,
                agent=str(u.halo_agent_id) if u.halo_agent_id else None,
                status=TicketStatus.in_progress,
                note=f"deskflow: assigned to {u.analyst_name or u.analyst} by "
                f"{u.by.name or u.by.username}.",
            )
            await self._activity("itsm_update_ticket", ItsmUpdate(itsm="halo", change=change))
            s.status = Status.provisioning
            self._audit(u.by.username, "assigned", u.analyst)
            person = self._analyst_contact()
            if person is not None:
                await self._tell(
                    [person],
                    f"assigned:{len(s.audits)}",
                    f"Halo ticket {s.halo_ticket_id} ({s.summary}) is yours to provision. Fill "
                    "Exhibit A and enter your time as “Provisioning and Imaging”.",
                )
            await self._sync()
            return s

    @assign.validator
    def _v_assign(self, u: Assign) -> None:
        _need(u.by, Role.care_team, Role.provisioning_specialist)
        self._ready(Status.care_team_review, Status.provisioning)

    @workflow.update
    async def submit_details(self, raw: Any) -> IntakeState:
        """Exhibit A. The argument is taken as raw JSON so that no converter error can ever
        echo a password back: `parse_submission` names the field, never the value."""
        async with self.lock:
            s = self._ready(*OPEN)
            try:
                u = parse_submission(raw)
                exhibit = validate_exhibit(u.details, self._setup.calendar, workflow.now())
            except ExhibitInvalid as e:
                raise _refuse(f"Exhibit A: {e}", e.problems[0][0]) from None
            n = sum(a.action == "Exhibit A recorded" for a in s.audits)
            await self._activity(
                "provisioning_save_details",
                SaveDetails(
                    key=f"{self._key}:details:{n}",
                    halo_ticket_id=s.halo_ticket_id,
                    exhibit=exhibit,
                    by=u.by.username,
                ),
            )
            s.details = exhibit.public()
            self._audit(u.by.username, "Exhibit A recorded", "14 fields; passwords encrypted")
            await self._sync()
            return s

    @submit_details.validator
    def _v_details(self, raw: Any) -> None:
        try:
            u = parse_submission(raw)
        except ExhibitInvalid as e:
            raise _refuse(f"Exhibit A: {e}", e.problems[0][0]) from None
        _need(u.by, *WORKERS)
        self._ready(*OPEN)
        try:
            validate_exhibit(u.details, self._setup.calendar, workflow.now())
        except ExhibitInvalid as e:
            raise _refuse(f"Exhibit A: {e}", e.problems[0][0]) from None

    @workflow.update
    async def log_time(self, u: LogTime) -> IntakeState:
        async with self.lock:
            wt = self._check_time(u)
            s = self._state
            hours = parse_hours(u.hours)
            note = await self._activity(
                "itsm_add_note",
                ItsmAddNote(
                    itsm="halo",
                    note=NewNote(
                        key=f"{self._key}:time:{len(s.audits)}",
                        ticket_id=s.halo_ticket_id,
                        text=u.note or f"Time entered in deskflow by {u.by.name or u.by.username}",
                        time=TimeEntry(hours=hours, work_type_id=wt.id, work_type=wt.name),
                    ),
                ),
                Note,
            )
            s.seen_actions = [*s.seen_actions, note.id][-SEEN_KEPT:]
            await self._record(
                TimeRecord(
                    id=note.id,
                    at=workflow.now(),
                    analyst=s.analyst or u.by.username,
                    hours=hours,
                    work_type=wt.name,
                    work_type_id=wt.id,
                    category8=s.status != Status.repair,
                )
            )
            self._audit(u.by.username, "time logged", f"{hours} h {wt.name}")
            await self._sync()
            return s

    @log_time.validator
    def _v_time(self, u: LogTime) -> None:
        self._check_time(u)

    def _check_time(self, u: LogTime) -> WorkType:
        """The work type of a valid time entry; refuses with the seed's reason otherwise."""
        _need(u.by, *WORKERS)
        s = self._ready(*OPEN, Status.repair)
        try:
            parse_hours(u.hours)
        except ValueError as e:
            raise _refuse(str(e), "hours") from None
        wt = self._setup.work_type_named(u.work_type)
        if wt is None:
            names = ", ".join(w.name for w in self._setup.work_types)
            raise _refuse(f"unknown work type: Halo's work types are {names}", "work_type")
        problem = work_type_problem(wt.name, s.status or Status.provisioning, self._setup.spec)
        if problem:
            raise _refuse(problem, "work_type")
        return wt

    @workflow.update
    async def reclassify_as_repair(self, u: ReclassifyAsRepair) -> IntakeState:
        async with self.lock:
            s = self._ready(*OPEN)
            change = TicketChange(
                key=f"{self._key}:repair",
                ticket_id=s.halo_ticket_id,
                kind=TicketKind.incident,
                category=REPAIR_CATEGORY,
                category_id=self._setup.spec.category_id("repair"),
                note=f"deskflow: reclassified as a repair (incident) by "
                f"{u.by.name or u.by.username}: {u.reason}. A re-provision for a repair is not "
                "category 8; its time is service time with an “SD” work type.",
            )
            await self._activity("itsm_update_ticket", ItsmUpdate(itsm="halo", change=change))
            s.status, s.category, s.subcategory = Status.repair, None, None
            self._audit(u.by.username, "reclassified as repair", u.reason[:200])
            await self._sync()
            return s

    @reclassify_as_repair.validator
    def _v_repair(self, u: ReclassifyAsRepair) -> None:
        _need(u.by, *WORKERS)
        self._ready(*OPEN)

    @workflow.update
    async def request_close(self, u: RequestClose) -> IntakeState:
        async with self.lock:
            self._v_close(u)
            s = self._state
            await self._activity(
                "provisioning_resolve",
                ResolveTicket(
                    key=f"{self._key}:close",
                    halo_ticket_id=s.halo_ticket_id,
                    notes=f"deskflow: closed by {u.by.name or u.by.username}"
                    f"{': ' + u.note if u.note else '.'}",
                ),
            )
            await self._finish(u.by.username)
            await self._sync()
            return s

    @request_close.validator
    def _v_close(self, u: RequestClose) -> None:
        _need(u.by, *WORKERS)
        s = self._ready(*OPEN, Status.repair)
        if s.status != Status.repair and not s.has_provisioning_time(self._setup.spec):
            raise _refuse(CLOSE_REASON, "work_type")

    # ----- signal and query -------------------------------------------------------------------

    @workflow.signal(name="ticket_event")
    def ticket_event(self, event: ItsmEvent) -> None:
        first = self.inbox[0].ticket.id if self.inbox else None
        expected = self.s.halo_ticket_id if self.s else first
        if event.itsm != "halo" or (expected is not None and event.ticket.id != expected):
            workflow.logger.warning("event for another ticket dropped: %s", event.delivery_id)
            return
        self.inbox.append(event)

    @workflow.query
    def state(self) -> IntakeState | None:
        return self.s

    # ----- helpers ------------------------------------------------------------------------------

    def _analyst_contact(self) -> Contact | None:
        s = self._state
        if not s.analyst_email:
            return None
        return Contact(name=s.analyst_name or s.analyst, email=s.analyst_email)

    async def _record(self, entry: TimeRecord) -> None:
        s = self._state
        s.time = [*[t for t in s.time if t.id != entry.id], entry]
        await self._activity(
            "provisioning_record_time", RecordTime(halo_ticket_id=s.halo_ticket_id, entry=entry)
        )

    async def _tell(self, people: list[Contact], purpose: str, text: str) -> None:
        """Email each person and post in the provisioning channel, once per purpose."""
        s, spec = self._state, self._setup.spec
        key = f"{self._key}:{purpose}"
        extra = {
            "notice": text,
            "number": s.halo_ticket_id,
            "summary": s.summary,
            "status": (s.status.value if s.status else "").replace("_", " "),
        }
        work = [
            self._activity(
                "send_email",
                EmailRequest(
                    key=f"{key}:{p.email}",
                    ticket_id=self._key,
                    template="provisioning_notice",
                    audience="team",
                    to=str(p.email),
                    extra={**extra, "name": p.name},
                ),
                EmailResult,
            )
            for p in people
        ]
        work.append(
            self._activity(
                "post_slack",
                SlackRequest(key=key, ticket_id=self._key, channel=spec.slack_channel, text=text),
            )
        )
        await asyncio.gather(*work)

    def _audit(self, by: str, action: str, detail: str) -> None:
        s = self._state
        s.audits = [*s.audits, Audit(at=workflow.now(), by=by, action=action, detail=detail)]

    async def _sync(self) -> None:
        """Search attributes and the console projection, when they changed."""
        s = self._state
        s.next_wakeup = self._next_wakeup()
        face = s.model_dump_json(exclude={"next_wakeup"})
        if face == self._synced:
            return
        self._synced = face
        workflow.upsert_search_attributes(
            [
                sa.PROVISIONING_STATUS.value_set(s.status.value if s.status else ""),
                sa.PROVISIONING_SUBCATEGORY.value_set(
                    [s.subcategory.value] if s.subcategory else []
                ),
                sa.PROVISIONING_ANALYST.value_set([s.analyst] if s.analyst else []),
                sa.HALO_TICKET_ID.value_set(int(s.halo_ticket_id)),
            ]
        )
        await workflow.execute_local_activity(
            "provisioning_project", Projection(state=s), start_to_close_timeout=SHORT
        )

    def _activity(self, name: str, arg: Any, result_type: Any = None):
        """An activity; a write Halo refuses for good (the ticket deleted) is audited and the
        intake goes on, rather than failing the workflow."""
        call = workflow.execute_activity(
            name, arg, result_type=result_type, start_to_close_timeout=SHORT, retry_policy=RETRY
        )
        if name not in ("itsm_update_ticket", "itsm_add_note"):
            return call
        return tolerate_refusal(
            call, lambda why: self._audit("deskflow", "Halo write not made", why), name
        )

    @property
    def _state(self) -> IntakeState:
        assert self.s is not None
        return self.s

    @property
    def _setup(self) -> Setup:
        assert self.setup is not None
        return self.setup

    @property
    def _key(self) -> str:
        return f"provisioning-{self._state.halo_ticket_id}"
