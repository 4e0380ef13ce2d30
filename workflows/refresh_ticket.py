"""RefreshTicket: one durable workflow per refresh ticket, from TDX ticket to completion.

`run` and the step table below read as seed 001's timeline. The loop is a reconciler:
each step looks at the ticket's state and either does the one side effect that is due or
waits until something changes (a message, a deadline, a background check). Deadlines are
absolute instants kept in the state, so a hold can shift them, the `state` query can show
`next_wakeup`, and continue-as-new carries them over.

Where the rest lives: the messages people send (updates, signals, the `state` query) in
`refresh_messages.py`; bookkeeping (audits, projection, search attributes, waiting) in
`refresh_base.py`; each activity call with its retry policy in `refresh_activities.py`;
the pure rules (next status, deadlines, status sets) in `domain/refresh_lifecycle.py` and
`domain/refresh.py`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import time

from temporalio import workflow
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr loads it lazily)

    from domain.activity_requests import (
        AssetLookup,
        DeliveryCheck,
        EmailRequest,
        EmailTicket,
        LoadTicketContext,
        RecordEvent,
        ReleaseSlotRequest,
        SlackRequest,
        TdxCompleteTask,
        TdxFeed,
        TdxScheduleDay1,
        TdxTaskRequest,
        TdxTicketRequest,
    )
    from domain.config_changes import apply_reload, reload_plan
    from domain.refresh import (
        TERMINAL,
        WORKFLOW_TYPE,
        BookedSlot,
        Deadline,
        EmailSent,
        RefreshTicketInput,
        ReplacementSystem,
        Status,
        UpdateAck,
    )
    from domain.refresh_lifecycle import (
        WIZARD_DEADLINES,
        new_ticket_state,
        status_after_itsm,
        status_after_location,
        wizard_deadlines,
    )
    from workflows import refresh_activities as act
    from workflows.refresh_base import FOLLOW_UP_AFTER_REPLY, SETUP_REFUSAL_SHOWN
    from workflows.refresh_messages import TicketMessages

Step = Callable[[], Awaitable[None]]
TDX_TASKS = {"prestage": "Prestage replacement", "build": "Build", "deliver": "Deliver"}


@workflow.defn(name=WORKFLOW_TYPE)
class RefreshTicket(TicketMessages):
    @workflow.init
    def __init__(self, inp: RefreshTicketInput) -> None:
        # The state exists before any message handler runs: a signal may arrive in the very
        # first workflow task, ahead of `run`.
        self.s = inp.resume or new_ticket_state(inp, workflow.now())
        self._context = None
        self._config_wanted: int | None = None
        self._dirty = True
        self._synced_status = None
        self._synced_attributes = {}
        self._running = {}
        self._history_limit = inp.history_limit
        self._one_at_a_time = asyncio.Lock()
        self._replying, self._after_reply = False, None
        self._attributes_after_reply = False
        self._follow_up_after_reply = self._confirmed = False
        # A continued run starts with its audits written (the last run waited for that).
        self._audits_written = len(self.s.audits) if inp.resume else 0
        self._projecting = asyncio.Lock()
        self._steps = self._step_table()
        self._message_tables()

    # ----- the story ---------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: RefreshTicketInput) -> UpdateAck:
        """Until a terminal status. The result names the ticket and how it ended; the whole
        ticket is the `state` query's (which answers after the end too) and the row's: as
        the result it was the largest payload of a ticket's history."""
        self._follow_up_after_reply = workflow.patched(FOLLOW_UP_AFTER_REPLY)
        try:
            self._context = await act.load_ticket_context(
                LoadTicketContext(config_id=inp.config_id, team_id=inp.support_team)
            )
            if not self.s.setup_done:
                await self._set_up()
        except ActivityError as e:
            if workflow.patched(SETUP_REFUSAL_SHOWN):
                await self._cancel_unstarted(e)
            raise
        while self.s.status not in TERMINAL:
            if self._should_continue_as_new():
                await self._stop_background()
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._sync()
                await self._projected()
                workflow.continue_as_new(inp.model_copy(update={"resume": self.s}))
            await self._step()
        await self._finish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._sync()
        await self._projected()
        return UpdateAck(ticket_id=self.s.ticket_id, status=self.s.status)

    def _step_table(self) -> dict[Status, Step]:
        """What each status does or waits for, in the order of seed 001's timeline."""
        return {
            Status.pending_invite: self._invite,  # 3.2: next business morning, 10:05
            Status.pending_wizard: self._remind_until_wizard,  # 4, 5: reminders at 5 and 10 days
            Status.pending_location_info: self._wait_for_location,  # 6, 8: staff provide it
            Status.pending_approval: self._wait_for_approval,
            Status.pending_ordering: self._order,  # 9: the order group assigns a system
            Status.pending_itsm_existence: self._find_in_tdx,  # 9.2: until TDX knows it
            Status.pending_slot_discovery: self._invite_to_schedule,  # 9.2.2: enough slots
            Status.pending_customer_scheduling: self._wait_for_pick,  # 9.2.2: customer picks
            Status.delivery_scheduled: self._deliver_on_day1,  # 9.2.4, 10: confirm, remind
            Status.pending_delivery: self._ship,  # 9.2.3, 10: tracking email
            Status.installed: self._follow_delivery,  # 10: until TDX closes the ticket
            Status.on_hold: self._wait,  # until released or cancelled
        }

    async def _step(self) -> None:
        """Do the one thing the current status calls for, or wait for a change."""
        if self._config_wanted is not None and workflow.patched("config-reload"):
            await self._reload_config()
        if self._dirty:
            await self._sync()
        if await self._waited_for_the_confirm():
            return  # the loop looks again at the ticket as it is now
        await self._steps[self.s.status]()

    async def _reload_config(self) -> None:
        """An edited config reaches the ticket by the rules its editor's preview showed."""
        self._config_wanted = None
        newer = await act.load_ticket_context(
            LoadTicketContext(config_id=self.s.config_id, team_id=self.s.support_team)
        )
        plan = reload_plan(self.s, self.ctx.config, newer.config)
        self._context = self.ctx.model_copy(update={"config": plan.config})
        apply_reload(self.s, plan)
        self._audit("system", "config applied", detail=plan.audit_detail)

    # ----- the steps ---------------------------------------------------------------------

    async def _set_up(self) -> None:
        """Timeline 3: the config's choices, the invite time, the TDX ticket and tasks."""
        s, config = self.s, self.ctx.config
        s.options = config.options
        s.requires_approval = config.requires_approval
        s.unit_location = config.unit_location if s.style == "unit_location" else None
        if s.peripherals == [] and not s.wizard_submitted:
            s.peripherals = list(config.peripheral_bundle)
        if s.status == Status.pending_invite:
            s.deadlines[Deadline.invite] = self.ctx.calendar.invite_time(s.created_at)
        self._audit("system", "created", to_status=s.status, detail=f"config {s.config_id}")
        created = await act.tdx_create_ticket(self._refresh_ticket_request())
        s.tdx.ticket_id, s.tdx.url = created.tdx_ticket_id, created.url
        work = [
            act.tdx_create_task(
                TdxTaskRequest(ticket_id=s.ticket_id, tdx_ticket_id=self.tdx_id, kind=k, title=t)
            )
            for k, t in TDX_TASKS.items()
        ]
        if s.style == "on_prem":
            work.append(act.post_slack(self._new_on_prem_message()))
        results = await asyncio.gather(*work)
        s.tdx.tasks = dict(zip(TDX_TASKS, results[:3], strict=True))
        s.setup_done = True
        self._touch()

    async def _cancel_unstarted(self, refusal: ActivityError) -> None:
        """A setup refused for good (TDX answered 400/401/403, the team's calendar is
        gone): the run fails, and its row says why, cancelled, instead of the first status
        its starter wrote, which would count as a running ticket for ever."""
        cause = refusal.cause if isinstance(refusal.cause, FailureError) else refusal
        reason = cause.message
        self._set_status(Status.cancelled, "system", f"could not be set up: {reason}")
        await self._sync()
        await self._projected()

    async def _invite(self) -> None:
        scheduled = await self._deadline_passed(Deadline.invite)
        if scheduled is None:
            return
        await self._email("invite")
        self.s.invited_at = workflow.now()
        # Counted from the scheduled 10:05, so reminders keep that wall-clock time.
        self.s.deadlines.update(wizard_deadlines(self.ctx.calendar, scheduled))
        self._set_status(Status.pending_wizard, "system", "invite sent")

    async def _remind_until_wizard(self) -> None:
        if self.s.location_known:
            await self._after_location_known()
            return
        due = self._due(WIZARD_DEADLINES)
        if due is None:
            await self._wait(self._earliest(WIZARD_DEADLINES))
            return
        self.s.deadlines.pop(due)
        if due == Deadline.location_info:
            self._clear(WIZARD_DEADLINES)
            self._set_status(
                Status.pending_location_info, "system", "wizard not walked in 14 business days"
            )
        else:
            await self._email("wizard_reminder")

    async def _wait_for_location(self) -> None:
        if self.s.location_known:  # staff provided it (provide_location)
            await self._after_location_known()
        else:
            await self._wait()

    async def _after_location_known(self) -> None:
        """Wizard submitted or location provided: record a changed location, then approve/order."""
        s = self.s
        self._clear(WIZARD_DEADLINES)
        if s.style == "on_prem" and (s.location or "") != (s.existing_system.location or ""):
            await self._changed_location()
        status = status_after_location(bool(s.requires_approval), s.approved_by)
        detail = (
            "waiting for an approver" if status == Status.pending_approval else "ready to order"
        )
        self._set_status(status, "system", detail)

    async def _wait_for_approval(self) -> None:
        if self.s.approved_by:
            self._set_status(Status.pending_ordering, self.s.approved_by, "approved")
        else:
            await self._wait()

    async def _order(self) -> None:
        rep = self.s.replacement_system
        if rep is None or not self.s.replacement_assigned:
            # An exchange_replacement alone records the system but never advances (seed 001).
            await self._wait()
            return
        if rep.platform == "windows" and "prestage" in self.s.tdx.tasks:
            await self._prestage(rep)
        elif rep.platform == "mac" and self.s.style == "remote":
            await self._email("mac_mdm_request", audience="mac_engineering")
        self._set_status(Status.pending_itsm_existence, "system", f"replacement {rep.serial}")

    async def _find_in_tdx(self) -> None:
        s = self.s
        rep = s.replacement_system
        assert rep is not None
        lookup = AssetLookup(ticket_id=s.ticket_id, serial=rep.serial)
        found = await self._background(f"itsm:{rep.serial}", lambda: act.tdx_find_asset(lookup))
        if found is None:
            return
        status = status_after_itsm(s.style)
        if status != Status.delivery_scheduled:
            self._set_status(status, "system", f"asset {found.asset_id} in TDX")
            return
        # No customer: a generic 00:00 slot on the next business day.
        cal = self.ctx.calendar
        day1 = cal.at_local(cal.next_business_day(cal.business_day_of(workflow.now())), time(0))
        s.slot = BookedSlot(slot_id=0, start=day1, end=day1, location=s.location or "")
        s.schedule_version += 1
        self._set_status(Status.delivery_scheduled, "system", "generic 00:00 slot")

    async def _invite_to_schedule(self) -> None:
        if self.s.slot is not None:
            self._set_status(Status.delivery_scheduled, "staff", "slot assigned by staff")
        elif self.s.slot_offers:
            await self._email("schedule_invite")
            self._set_status(Status.pending_customer_scheduling, "discovery", "slots available")
        else:
            await self._wait()

    async def _wait_for_pick(self) -> None:
        if self.s.slot is not None:
            self._set_status(Status.delivery_scheduled, "system", "slot booked")
        else:
            await self._wait()

    async def _deliver_on_day1(self) -> None:
        if self.s.confirmed_version != self.s.schedule_version:
            await self._confirm_schedule()
            return
        if self._due((Deadline.appointment_reminder,)):
            self.s.deadlines.pop(Deadline.appointment_reminder)
            await self._email("appointment_reminder")
            return
        await self._follow_delivery()

    async def _ship(self) -> None:
        s = self.s
        if s.tracking_number and s.tracking_emailed != s.tracking_number:
            await self._email("tracking")
            s.tracking_emailed = s.tracking_number
            self._audit("system", "tracking emailed", detail=s.tracking_number)
            return
        await self._follow_delivery()

    async def _finish(self) -> None:
        """Terminal status: stop checks; on cancel, free the slot and tell TDX."""
        async with self._one_at_a_time:  # after a booking in flight, so its slot is freed too
            s = self.s
            await self._stop_background()
            s.deadlines.clear()
            s.next_wakeup = None
            if s.status == Status.cancelled:
                reason = "ticket cancelled"
                work = [act.release_slot(ReleaseSlotRequest(ticket_id=s.ticket_id, reason=reason))]
                if s.tdx.ticket_id:
                    work.append(act.tdx_add_feed(self._cancelled_feed()))
                await asyncio.gather(*work)
            self._touch()

    # ----- pieces the steps share ----------------------------------------------------------

    async def _confirm_schedule(self) -> None:
        """A slot was booked or changed: TDX day 1, confirmation email, reminder timer."""
        s = self.s
        slot = s.slot
        assert slot is not None
        version = s.schedule_version
        tasks = {k: v for k, v in s.tdx.tasks.items() if k in ("build", "deliver")}
        day1 = TdxScheduleDay1(
            key=f"{s.ticket_id}:day1:{version}",
            ticket_id=s.ticket_id,
            tdx_ticket_id=self.tdx_id,
            task_ids=tasks,
            start=slot.start,
            end=slot.end,
            location=slot.location,
        )
        work = [act.tdx_schedule_day1(day1)]
        if s.style != "no_customer":
            work.append(self._email("appointment_confirmation", purpose=f"v{version}"))
            reminder = self.ctx.calendar.reminder_time(slot.start)
            if reminder > workflow.now():
                s.deadlines[Deadline.appointment_reminder] = reminder
            else:
                s.deadlines.pop(Deadline.appointment_reminder, None)
        await asyncio.gather(*work)
        s.confirmed_version = version
        self._touch()

    async def _follow_delivery(self) -> None:
        """Daily TDX check: installed, then closed (complete). Waits for reminders meanwhile."""
        s = self.s
        installed = s.status == Status.installed
        check = DeliveryCheck(
            ticket_id=s.ticket_id,
            tdx_ticket_id=self.tdx_id,
            deliver_task_id=s.tdx.tasks.get("deliver"),
            installed_known=installed,
        )
        outcome = await self._background(
            f"delivery:{installed}",
            lambda: act.tdx_delivery_progress(check),
            # Only a scheduled delivery still has a reminder to send meanwhile.
            until=None if installed else self._earliest((Deadline.appointment_reminder,)),
        )
        if outcome == "installed":
            s.installed_at = workflow.now()
            s.deadlines.pop(Deadline.appointment_reminder, None)
            self._set_status(Status.installed, "tdx", "TDX reports the system installed")
        elif outcome == "closed":
            s.installed_at = s.installed_at or workflow.now()
            s.completed_at = workflow.now()
            self._set_status(Status.complete, "tdx", "TDX ticket closed")

    async def _prestage(self, rep: ReplacementSystem) -> None:
        """Windows: the replacement goes into its prestage group; TDX's task is done."""
        s = self.s
        group = s.replacement_group or self.ctx.config.prestage_group or s.support_team
        s.replacement_group = group
        event = RecordEvent(
            key=f"{s.ticket_id}:prestage:{rep.serial}",
            ticket_id=s.ticket_id,
            kind="prestaged",
            at=workflow.now(),
            detail={"serial": rep.serial, "group": group},
        )
        task_done = TdxCompleteTask(
            key=f"{s.ticket_id}:prestage-task",
            ticket_id=s.ticket_id,
            tdx_ticket_id=self.tdx_id,
            task_id=s.tdx.tasks["prestage"],
            comment=f"Replacement {rep.serial} prestaged into group {group}.",
        )
        # Local: a signal's workflow task (assign_replacement); no reply waits for it.
        await asyncio.gather(act.record_event(event, local=True), act.tdx_complete_task(task_done))

    async def _changed_location(self) -> None:
        """Timeline 4.3.1: a Changed Location event and a TDX ticket for NIT to confirm."""
        s = self.s
        event = RecordEvent(
            key=f"{s.ticket_id}:changed-location",
            ticket_id=s.ticket_id,
            kind="changed_location",
            at=workflow.now(),
            detail={"from": s.existing_system.location, "to": s.location},
        )
        ticket = TdxTicketRequest(
            key=f"{s.ticket_id}:changed-location",
            ticket_id=s.ticket_id,
            kind="changed_location",
            title=f"Confirm location for {s.user.name} ({s.existing_system.serial})",
            description=(
                f"Customer of refresh {s.ticket_id} gave location '{s.location}'; TDX "
                f"shows '{s.existing_system.location}'. Please confirm TDX location data."
            ),
            requestor_email=str(s.user.email),
            serial=s.existing_system.serial,
        )
        await asyncio.gather(
            act.record_event(event, local=self._events_local()), act.tdx_create_ticket(ticket)
        )
        self._audit("customer", "changed location", detail=s.location or "")

    async def _email(
        self, template: str, *, audience: str = "customer", purpose: str | None = None
    ) -> None:
        """Send one email through the idempotent activity and log it on the ticket."""
        s = self.s
        if s.style == "no_customer" and audience == "customer":
            return
        n = sum(1 for e in s.emails if e.template == template)
        key = f"{s.ticket_id}:{template}:{purpose or n + 1}"
        result = await act.send_email(
            EmailRequest(
                key=key,
                ticket_id=s.ticket_id,
                template=template,
                audience=audience,
                ticket=EmailTicket.model_validate(s),
            )
        )
        s.emails.append(EmailSent(template=template, to=result.to, at=workflow.now(), key=key))
        self._touch()

    # ----- what the steps tell TDX and Slack ---------------------------------------------------

    def _refresh_ticket_request(self) -> TdxTicketRequest:
        s = self.s
        return TdxTicketRequest(
            key=f"{s.ticket_id}:tdx-ticket",
            ticket_id=s.ticket_id,
            kind="refresh",
            title=f"Refresh {s.ticket_id}: {s.existing_system.model} for {s.user.name}",
            description=(
                f"Computer refresh of {s.existing_system.serial} ({s.existing_system.model}) "
                f"for {s.user.name} <{s.user.email}>; style {s.style}; "
                f"support team {s.support_team}. [deskflow:{s.ticket_id}]"
            ),
            requestor_email=str(s.user.email),
            serial=s.existing_system.serial,
        )

    def _new_on_prem_message(self) -> SlackRequest:
        s = self.s
        return SlackRequest(
            key=f"{s.ticket_id}:slack:tdx-created",
            ticket_id=s.ticket_id,
            channel=self.ctx.team.slack_channel,
            text=(
                f"New on-prem refresh {s.ticket_id} for {s.user.name} "
                f"({s.existing_system.model}, {s.existing_system.serial}): "
                f"TDX ticket {s.tdx.ticket_id} {s.tdx.url}"
            ),
        )

    def _cancelled_feed(self) -> TdxFeed:
        s = self.s
        return TdxFeed(
            key=f"{s.ticket_id}:cancelled",
            ticket_id=s.ticket_id,
            tdx_ticket_id=self.tdx_id,
            comment=f"Refresh cancelled: {s.cancel_reason}",
            cancel=True,
        )
