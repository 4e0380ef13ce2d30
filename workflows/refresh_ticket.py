"""RefreshTicket: one durable workflow per refresh ticket, from TDX ticket to completion.

The run loop is a reconciler: each step looks at the ticket's state and either does the
one side effect that is due or waits until something changes (a message, a deadline, a
background check). Deadlines are absolute instants kept in the state, so a hold can shift
them, the `state` query can show `next_wakeup`, and continue-as-new carries them over.
Message handlers only validate and change state; the loop performs what follows from it
(emails, TDX, projection), so every path to a status shares one implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, time, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import email_validator  # noqa: F401  (pydantic's EmailStr loads it lazily)

    from domain import search_attributes as sa
    from domain.activity_requests import (
        AssetFound,
        AssetLookup,
        BookSlotRequest,
        DeliveryCheck,
        EmailRequest,
        EmailResult,
        LoadTicketContext,
        ProjectTicket,
        RecordEvent,
        ReleaseSlotRequest,
        SlackRequest,
        TdxCompleteTask,
        TdxFeed,
        TdxScheduleDay1,
        TdxTaskRequest,
        TdxTicketCreated,
        TdxTicketRequest,
    )
    from domain.messages import clip
    from domain.refresh import (
        EDITABLE,
        SIGNALS,
        TERMINAL,
        UPDATES,
        WORKFLOW_TYPE,
        Approve,
        AssignReplacement,
        AuditEntry,
        BookedSlot,
        Cancel,
        ChangeRequest,
        EmailSent,
        ExchangeReplacement,
        Hold,
        PickSlot,
        ProvideLocation,
        RefreshTicketInput,
        Reject,
        Release,
        Reschedule,
        SetTracking,
        SlotsAvailable,
        Status,
        TicketContext,
        TicketEdit,
        TicketState,
        TriggerCustomerReschedule,
        WizardSubmission,
    )
    from domain.refresh_rules import check_edit, check_provide_location, check_wizard
    from domain.tdx_queues import tdx_queue
    from workflows.messages import MessageRefused, read_message

INVITE_REMINDERS = {"wizard_reminder_1": 5, "wizard_reminder_2": 10, "location_info": 14}
SHORT = timedelta(seconds=30)
EMAIL_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))
TDX_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=10))
# Until TDX knows the replacement's serial: quick at first, then hourly, forever.
ITSM_RETRY = RetryPolicy(
    initial_interval=timedelta(minutes=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(hours=1),
)
# The daily TDX check is one activity retried once a day: retries cost no history events.
DAILY_RETRY = RetryPolicy(
    initial_interval=timedelta(days=1), backoff_coefficient=1.0, maximum_interval=timedelta(days=1)
)


@workflow.defn(name=WORKFLOW_TYPE)
class RefreshTicket:
    @workflow.init
    def __init__(self, inp: RefreshTicketInput) -> None:
        # The state exists before any message handler runs: a signal may arrive in the very
        # first workflow task, ahead of `run`.
        self.s: TicketState | None = inp.resume or self._new_state(inp)
        self.ctx: TicketContext | None = None
        self._dirty = True
        self._synced_status: str | None = None
        self._synced_audits = 0
        self._background: dict[str, asyncio.Task] = {}
        self._history_limit: int | None = None
        self._one_at_a_time = asyncio.Lock()
        self._message_tables()

    # ----- the story ---------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: RefreshTicketInput) -> TicketState:
        self._history_limit = inp.history_limit
        self.ctx = await workflow.execute_activity(
            "load_ticket_context",
            LoadTicketContext(config_id=inp.config_id, team_id=inp.support_team),
            result_type=TicketContext,
            start_to_close_timeout=SHORT,
        )
        if not self.s.setup_done:
            await self._setup()
        while self.s.status not in TERMINAL:
            if self._should_continue_as_new():
                await self._stop_background()
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._sync()
                workflow.continue_as_new(inp.model_copy(update={"resume": self.s}))
            await self._step()
        await self._finish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._sync()
        return self.s

    def _new_state(self, inp: RefreshTicketInput) -> TicketState:
        now = workflow.now()
        return TicketState(
            ticket_id=inp.ticket_id,
            config_id=inp.config_id,
            style=inp.style,
            bump_down=inp.bump_down,
            status=Status.pending_ordering if inp.style == "no_customer" else Status.pending_invite,
            support_team=inp.support_team,
            batch_id=inp.batch_id,
            user=inp.user,
            delegate=inp.delegate,
            existing_system=inp.existing_system,
            replacement_system=inp.replacement_system,
            location=inp.existing_system.location or None,
            created_at=now,
        )

    async def _setup(self) -> None:
        """Create the TDX ticket and tasks (idempotent activities) and tell the team."""
        s, ctx = self._state, self._ctx
        s.options = ctx.config.options
        s.requires_approval = ctx.config.requires_approval
        s.unit_location = ctx.config.unit_location if s.style == "unit_location" else None
        if s.peripherals == [] and not s.wizard_submitted:
            s.peripherals = list(ctx.config.peripheral_bundle)
        if s.status == Status.pending_invite:
            s.invite_at = ctx.calendar.invite_time(s.created_at)
            s.deadlines["invite"] = s.invite_at
        self._audit("system", "created", to_status=s.status, detail=f"config {s.config_id}")
        created = await self._create_tdx_ticket(
            TdxTicketRequest(
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
        )
        s.tdx.ticket_id, s.tdx.url = created.tdx_ticket_id, created.url
        kinds = {"prestage": "Prestage replacement", "build": "Build", "deliver": "Deliver"}
        side_effects = [
            workflow.execute_activity(
                "tdx_create_task",
                TdxTaskRequest(
                    ticket_id=s.ticket_id, tdx_ticket_id=created.tdx_ticket_id, kind=k, title=t
                ),
                result_type=int,
                task_queue=self._tdx_tasks_queue,
                start_to_close_timeout=SHORT,
                retry_policy=TDX_RETRY,
            )
            for k, t in kinds.items()
        ]
        if s.style == "on_prem":
            side_effects.append(
                workflow.execute_activity(
                    "post_slack",
                    SlackRequest(
                        key=f"{s.ticket_id}:slack:tdx-created",
                        ticket_id=s.ticket_id,
                        channel=ctx.team.slack_channel,
                        text=(
                            f"New on-prem refresh {s.ticket_id} for {s.user.name} "
                            f"({s.existing_system.model}, {s.existing_system.serial}): "
                            f"TDX ticket {created.tdx_ticket_id} {created.url}"
                        ),
                    ),
                    start_to_close_timeout=SHORT,
                    retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
                )
            )
        results = await asyncio.gather(*side_effects)
        s.tdx.tasks = dict(zip(kinds, results[:3], strict=True))
        s.setup_done = True
        self._touch()

    async def _step(self) -> None:
        """Do the one thing the current status calls for, or wait for a change."""
        if self._dirty:
            await self._sync()
        status = self._state.status
        if status == Status.on_hold:
            await self._wait()
            return
        await getattr(self, f"_in_{status.value}")()

    async def _in_pending_invite(self) -> None:
        if await self._wait_deadline("invite"):
            await self._email("invite")
            s = self._state
            s.invited_at = workflow.now()
            # Counted from the scheduled 10:05, so reminders keep that wall-clock time.
            base = s.invite_at or s.invited_at
            for name, days in INVITE_REMINDERS.items():
                s.deadlines[name] = self._ctx.calendar.business_days_after(base, days)
            self._set_status(Status.pending_wizard, "system", "invite sent")

    async def _in_pending_wizard(self) -> None:
        s = self._state
        if s.wizard_submitted:
            await self._after_location_known()
            return
        due = self._due_deadline(tuple(INVITE_REMINDERS))
        if due is None:
            await self._wait(self._earliest(tuple(INVITE_REMINDERS)))
            return
        s.deadlines.pop(due)
        if due == "location_info":
            self._clear_wizard_deadlines()
            self._set_status(
                Status.pending_location_info, "system", "wizard not walked in 14 business days"
            )
        else:
            await self._email("wizard_reminder")

    async def _in_pending_location_info(self) -> None:
        if self._state.wizard_submitted:
            await self._after_location_known()
        else:
            await self._wait()

    async def _after_location_known(self) -> None:
        """Wizard submitted or location provided: record a changed location, then approve/order."""
        s = self._state
        self._clear_wizard_deadlines()
        if s.style == "on_prem" and (s.location or "") != (s.existing_system.location or ""):
            await self._changed_location()
        if s.requires_approval and not s.approved_by:
            self._set_status(Status.pending_approval, "system", "waiting for an approver")
        else:
            self._set_status(Status.pending_ordering, "system", "ready to order")

    async def _in_pending_approval(self) -> None:
        if self._state.approved_by:
            self._set_status(Status.pending_ordering, self._state.approved_by, "approved")
        else:
            await self._wait()

    async def _in_pending_ordering(self) -> None:
        s = self._state
        if s.replacement_system is None or not self._replacement_assigned():
            # An exchange_replacement alone records the system but never advances (seed 001).
            await self._wait()
            return
        rep = s.replacement_system
        if rep.platform == "windows" and "prestage" in s.tdx.tasks:
            group = s.replacement_group or self._ctx.config.prestage_group or s.support_team
            s.replacement_group = group
            await asyncio.gather(
                workflow.execute_local_activity(
                    "record_event",
                    RecordEvent(
                        key=f"{s.ticket_id}:prestage:{rep.serial}",
                        ticket_id=s.ticket_id,
                        kind="prestaged",
                        at=workflow.now(),
                        detail={"serial": rep.serial, "group": group},
                    ),
                    start_to_close_timeout=SHORT,
                ),
                self._tdx(
                    "tdx_complete_task",
                    TdxCompleteTask(
                        key=f"{s.ticket_id}:prestage-task",
                        ticket_id=s.ticket_id,
                        tdx_ticket_id=self._tdx_id,
                        task_id=s.tdx.tasks["prestage"],
                        comment=f"Replacement {rep.serial} prestaged into group {group}.",
                    ),
                ),
            )
        elif rep.platform == "mac" and s.style == "remote":
            await self._email("mac_mdm_request", audience="mac_engineering")
        self._set_status(Status.pending_itsm_existence, "system", f"replacement {rep.serial}")

    async def _in_pending_itsm_existence(self) -> None:
        s = self._state
        rep = s.replacement_system
        assert rep is not None
        found = await self._background_activity(
            f"itsm:{rep.serial}",
            "tdx_find_asset",
            AssetLookup(ticket_id=s.ticket_id, serial=rep.serial),
            AssetFound,
            ITSM_RETRY,
            queue=self._tdx_assets_queue,
        )
        if found is None:
            return
        if s.style in ("on_prem", "unit_location"):
            self._set_status(
                Status.pending_slot_discovery, "system", f"asset {found.asset_id} in TDX"
            )
        elif s.style == "remote":
            self._set_status(Status.pending_delivery, "system", f"asset {found.asset_id} in TDX")
        else:
            cal = self._ctx.calendar
            day1 = cal.at_local(cal.next_business_day(cal.business_day_of(workflow.now())), time(0))
            s.slot = BookedSlot(slot_id=0, start=day1, end=day1, location=s.location or "")
            s.day1 = day1
            s.schedule_version += 1
            self._set_status(Status.delivery_scheduled, "system", "generic 00:00 slot")

    async def _in_pending_slot_discovery(self) -> None:
        if self._state.slot is not None:
            self._set_status(Status.delivery_scheduled, "staff", "slot assigned by staff")
        elif self._state.slot_offers:
            await self._email("schedule_invite")
            self._set_status(Status.pending_customer_scheduling, "discovery", "slots available")
        else:
            await self._wait()

    async def _in_pending_customer_scheduling(self) -> None:
        if self._state.slot is not None:
            self._set_status(Status.delivery_scheduled, "system", "slot booked")
        else:
            await self._wait()

    async def _in_delivery_scheduled(self) -> None:
        s = self._state
        if s.confirmed_version != s.schedule_version:
            await self._confirm_schedule()
            return
        if self._due_deadline(("appointment_reminder",)):
            s.deadlines.pop("appointment_reminder")
            await self._email("appointment_reminder")
            return
        await self._follow_delivery()

    async def _in_pending_delivery(self) -> None:
        s = self._state
        if s.tracking_number and s.tracking_emailed != s.tracking_number:
            await self._email("tracking")
            s.tracking_emailed = s.tracking_number
            self._audit("system", "tracking emailed", detail=s.tracking_number)
            return
        await self._follow_delivery()

    async def _in_installed(self) -> None:
        await self._follow_delivery()

    # ----- pieces the steps share ----------------------------------------------------------

    async def _confirm_schedule(self) -> None:
        """A slot was booked or changed: TDX day 1, confirmation email, reminder timer."""
        s = self._state
        slot = s.slot
        assert slot is not None
        version = s.schedule_version
        work = [
            self._tdx(
                "tdx_schedule_day1",
                TdxScheduleDay1(
                    key=f"{s.ticket_id}:day1:{version}",
                    ticket_id=s.ticket_id,
                    tdx_ticket_id=self._tdx_id,
                    task_ids={k: v for k, v in s.tdx.tasks.items() if k in ("build", "deliver")},
                    start=slot.start,
                    end=slot.end,
                    location=slot.location,
                ),
            )
        ]
        if s.style != "no_customer":
            work.append(self._email("appointment_confirmation", purpose=f"v{version}"))
            reminder = self._ctx.calendar.reminder_time(slot.start)
            if reminder > workflow.now():
                s.deadlines["appointment_reminder"] = reminder
            else:
                s.deadlines.pop("appointment_reminder", None)
        await asyncio.gather(*work)
        s.confirmed_version = version
        self._touch()

    async def _follow_delivery(self) -> None:
        """Daily TDX check: installed, then closed (complete). Waits for reminders meanwhile."""
        s = self._state
        installed = s.status == Status.installed
        outcome = await self._background_activity(
            f"delivery:{installed}",
            "tdx_delivery_progress",
            DeliveryCheck(
                ticket_id=s.ticket_id,
                tdx_ticket_id=self._tdx_id,
                deliver_task_id=s.tdx.tasks.get("deliver"),
                installed_known=installed,
            ),
            str,
            DAILY_RETRY,
            # Only a scheduled delivery still has a reminder to send meanwhile.
            until=None if installed else self._earliest(("appointment_reminder",)),
        )
        if outcome == "installed":
            s.installed_at = workflow.now()
            s.deadlines.pop("appointment_reminder", None)
            self._set_status(Status.installed, "tdx", "TDX reports the system installed")
        elif outcome == "closed":
            s.installed_at = s.installed_at or workflow.now()
            s.completed_at = workflow.now()
            self._set_status(Status.complete, "tdx", "TDX ticket closed")

    async def _changed_location(self) -> None:
        s = self._state
        await asyncio.gather(
            workflow.execute_local_activity(
                "record_event",
                RecordEvent(
                    key=f"{s.ticket_id}:changed-location",
                    ticket_id=s.ticket_id,
                    kind="changed_location",
                    at=workflow.now(),
                    detail={"from": s.existing_system.location, "to": s.location},
                ),
                start_to_close_timeout=SHORT,
            ),
            self._create_tdx_ticket(
                TdxTicketRequest(
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
            ),
        )
        self._audit("customer", "changed location", detail=s.location or "")

    async def _email(
        self, template: str, *, audience: str = "customer", purpose: str | None = None
    ) -> None:
        """Send one email through the idempotent activity and log it on the ticket."""
        s = self._state
        if s.style == "no_customer" and audience == "customer":
            return
        n = sum(1 for e in s.emails if e.template == template)
        key = f"{s.ticket_id}:{template}:{purpose or n + 1}"
        result = await workflow.execute_activity(
            "send_email",
            EmailRequest(
                key=key, ticket_id=s.ticket_id, template=template, audience=audience, ticket=s
            ),
            result_type=EmailResult,
            start_to_close_timeout=SHORT,
            retry_policy=EMAIL_RETRY,
        )
        s.emails.append(EmailSent(template=template, to=result.to, at=workflow.now(), key=key))
        self._touch()

    def _create_tdx_ticket(self, req: TdxTicketRequest):
        """TDX ticket creation, on its own queue paced at TDX's lower creation limit."""
        return workflow.execute_activity(
            "tdx_create_ticket",
            req,
            result_type=TdxTicketCreated,
            task_queue=self._tdx_create_queue,
            start_to_close_timeout=SHORT,
            retry_policy=TDX_RETRY,
        )

    def _tdx(self, name: str, arg: object):
        return workflow.execute_activity(
            name,
            arg,
            task_queue=self._tdx_queue,
            start_to_close_timeout=SHORT,
            retry_policy=TDX_RETRY,
        )

    async def _background_activity(
        self, key, name, arg, result_type, retry, until=None, queue: str | None = None
    ):
        """Run a long-retrying activity across steps; return its result, or None on a change.

        The activity keeps running while unrelated messages arrive; it is cancelled only when
        the ticket leaves the status that started it (hold, cancel, reschedule).
        """
        task = self._background.get(key)
        if task is None:
            task = asyncio.ensure_future(
                workflow.execute_activity(
                    name,
                    arg,
                    result_type=result_type,
                    task_queue=queue or self._tdx_queue,
                    start_to_close_timeout=SHORT,
                    retry_policy=retry,
                )
            )
            self._background[key] = task
        await self._wait(until, extra=task.done)
        if not task.done():
            return None
        del self._background[key]
        return task.result()

    async def _stop_background(self) -> None:
        for task in self._background.values():
            task.cancel()
        for task in self._background.values():
            with contextlib.suppress(asyncio.CancelledError, ActivityError):
                await task
        self._background.clear()

    async def _finish(self) -> None:
        """Terminal status: stop checks; on cancel, free the slot and tell TDX."""
        async with self._one_at_a_time:  # after a booking in flight, so its slot is freed too
            await self._finish_unlocked()

    async def _finish_unlocked(self) -> None:
        s = self._state
        await self._stop_background()
        s.deadlines.clear()
        s.next_wakeup = None
        if s.status == Status.cancelled:
            work = [
                workflow.execute_activity(
                    "release_slot",
                    ReleaseSlotRequest(ticket_id=s.ticket_id, reason="ticket cancelled"),
                    start_to_close_timeout=SHORT,
                )
            ]
            if s.tdx.ticket_id:
                work.append(
                    self._tdx(
                        "tdx_add_feed",
                        TdxFeed(
                            key=f"{s.ticket_id}:cancelled",
                            ticket_id=s.ticket_id,
                            tdx_ticket_id=s.tdx.ticket_id,
                            comment=f"Refresh cancelled: {s.cancel_reason}",
                            cancel=True,
                        ),
                    )
                )
            await asyncio.gather(*work)
        self._touch()

    # ----- waiting -----------------------------------------------------------------------

    async def _wait(self, until: datetime | None = None, extra=None) -> None:
        """Sleep until state changes, `until` passes, or `extra()` turns true."""
        s = self._state
        s.next_wakeup = until
        if self._dirty:
            await self._sync()
        timeout = None if until is None else until - workflow.now()
        if timeout is not None and timeout <= timedelta(0):
            s.next_wakeup = None
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._dirty or (extra is not None and extra()), timeout=timeout
            )
        s.next_wakeup = None

    async def _wait_deadline(self, name: str) -> bool:
        """True once the named deadline has passed; otherwise waits and returns False."""
        if self._due_deadline((name,)):
            self._state.deadlines.pop(name)
            return True
        await self._wait(self._state.deadlines.get(name))
        return False

    def _due_deadline(self, names: tuple[str, ...]) -> str | None:
        now = workflow.now()
        due = [(t, n) for n, t in self._state.deadlines.items() if n in names and t <= now]
        return min(due)[1] if due else None

    def _earliest(self, names: tuple[str, ...]) -> datetime | None:
        times = [t for n, t in self._state.deadlines.items() if n in names]
        return min(times) if times else None

    def _replacement_assigned(self) -> bool:
        """Ordering is done by a bulk assignment, or at creation for a bump-down ticket."""
        s = self._state
        return s.bump_down or any(a.action == "replacement assigned" for a in s.audits)

    def _clear_wizard_deadlines(self) -> None:
        for name in INVITE_REMINDERS:
            self._state.deadlines.pop(name, None)

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        if self._history_limit and info.get_current_history_length() >= self._history_limit:
            return True
        return info.is_continue_as_new_suggested()

    # ----- state bookkeeping ----------------------------------------------------------------

    @property
    def _state(self) -> TicketState:
        assert self.s is not None
        return self.s

    @property
    def _ctx(self) -> TicketContext:
        assert self.ctx is not None
        return self.ctx

    @property
    def _tdx_id(self) -> int:
        assert self._state.tdx.ticket_id is not None
        return self._state.tdx.ticket_id

    @property
    def _tdx_queue(self) -> str:
        return tdx_queue(workflow.info().task_queue, "calls")

    @property
    def _tdx_create_queue(self) -> str:
        return tdx_queue(workflow.info().task_queue, "ticket_create")

    @property
    def _tdx_tasks_queue(self) -> str:
        return tdx_queue(workflow.info().task_queue, "task_create")

    @property
    def _tdx_assets_queue(self) -> str:
        return tdx_queue(workflow.info().task_queue, "asset_search")

    def _touch(self) -> None:
        self._dirty = True

    def _audit(self, actor: str, action: str, *, from_status=None, to_status=None, detail=""):
        s = self._state
        s.audits.append(
            AuditEntry(
                seq=len(s.audits) + 1,
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
        s = self._state
        old = s.status
        if status != old and old not in TERMINAL:
            if self._background:
                for task in self._background.values():
                    task.cancel()
                self._background.clear()
            s.status = status
            self._audit(actor, "status", from_status=old, to_status=status, detail=detail)

    async def _sync(self) -> None:
        """Write the projection (local activity) and the search attributes, if changed."""
        s = self._state
        self._dirty = False
        if s.status != self._synced_status:
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
        await workflow.execute_local_activity(
            "project_ticket", ProjectTicket(state=s), start_to_close_timeout=SHORT
        )

    # ----- messages ------------------------------------------------------------------------
    # Every update and signal arrives as raw payloads through the two dynamic handlers below
    # and is read by `read_message`: a bad update is refused with the field at fault, a bad
    # signal is dropped with an audit entry and a warning. Neither can fail the workflow task
    # (null, no argument, two arguments, wrong type, oversize, undecryptable, unknown name).
    # The tables in `_message_tables` name every message the ticket takes.

    def _message_tables(self) -> None:
        self._updates: dict[str, tuple[Callable[[Any], None], Callable[[Any], Awaitable]]] = {
            "submit_wizard": (self._check_submit_wizard, self.submit_wizard),
            "provide_location": (self._check_provide_location, self.provide_location),
            "approve": (self._check_approve, self.approve),
            "reject": (self._check_reject, self.reject),
            "edit": (self._check_edit, self.edit),
            "request_change": (self._check_request_change, self.request_change),
            "pick_slot": (self._check_pick_slot, self.pick_slot),
            "reschedule": (self._check_reschedule, self.reschedule),
            "hold": (self._check_hold, self.hold),
            "release": (self._check_release, self.release),
            "cancel": (self._check_cancel, self.cancel),
        }
        self._signals: dict[str, Callable[[Any], Awaitable[None]]] = {
            "assign_replacement": self.assign_replacement,
            "exchange_replacement": self.exchange_replacement,
            "slots_available": self.slots_available,
            "set_tracking": self.set_tracking,
            "trigger_customer_reschedule": self.trigger_customer_reschedule,
        }
        assert set(self._updates) == set(UPDATES) and set(self._signals) == set(SIGNALS)

    @workflow.update(dynamic=True)
    async def _on_update(self, name: str, args: Sequence[RawValue]) -> Any:
        _, handle = self._updates[name]
        return await handle(self._read_update(name, args))

    @_on_update.validator
    def _check_update(self, name: str, args: Sequence[RawValue]) -> None:
        if name not in self._updates:
            raise ApplicationError(
                f"unknown update '{clip(name, 60)}'; a ticket takes {', '.join(UPDATES)}",
                type="InvalidMessage",
            )
        check, _ = self._updates[name]
        check(self._read_update(name, args))

    def _read_update(self, name: str, args: Sequence[RawValue]) -> Any:
        try:
            return read_message(args, UPDATES[name])
        except MessageRefused as refused:
            raise ApplicationError(str(refused), type="InvalidMessage") from None

    @workflow.signal(dynamic=True)
    async def _on_signal(self, name: str, args: Sequence[RawValue]) -> None:
        handle = self._signals.get(name)
        if handle is None:
            self._drop(name, f"unknown signal; a ticket takes {', '.join(SIGNALS)}")
            return
        try:
            msg = read_message(args, SIGNALS[name])
        except MessageRefused as refused:
            self._drop(name, str(refused))
            return
        await handle(msg)

    def _drop(self, name: str, reason: str) -> None:
        """A signal cannot be refused to its sender: say on the ticket and in the log why not."""
        detail = clip(f"{clip(name, 60)}: {reason}")
        workflow.logger.warning("dropped signal %s", detail)
        self._audit("system", "dropped signal", detail=detail)

    # ----- updates -------------------------------------------------------------------------

    async def submit_wizard(self, msg: WizardSubmission) -> TicketState:
        s = self._state
        s.location = msg.location if s.style == "on_prem" else s.location
        s.shipping_address = msg.shipping_address or s.shipping_address
        s.device = msg.device or s.device
        if msg.peripherals is not None:
            s.peripherals = msg.peripherals
        s.software = msg.software
        s.wizard_submitted = True
        self._audit(msg.actor, "wizard submitted")
        return s

    def _check_submit_wizard(self, msg: WizardSubmission) -> None:
        self._require(Status.pending_wizard)
        check_wizard(self._state, self._ctx.config, msg)

    async def provide_location(self, msg: ProvideLocation) -> TicketState:
        s = self._state
        if s.style == "remote":
            s.shipping_address = msg.shipping_address
        elif s.style == "on_prem":
            s.location = msg.location
        s.wizard_submitted = True
        self._audit(msg.actor, "location provided", detail=msg.location or "")
        return s

    def _check_provide_location(self, msg: ProvideLocation) -> None:
        self._require(Status.pending_location_info)
        check_provide_location(self._state, msg)

    async def approve(self, msg: Approve) -> TicketState:
        self._state.approved_by = msg.approver
        self._audit(msg.approver, "approved", detail=msg.comment)
        return self._state

    def _check_approve(self, msg: Approve) -> None:
        self._require(Status.pending_approval)
        self._require_approver(msg.approver)

    async def reject(self, msg: Reject) -> TicketState:
        self._cancel(msg.approver, f"rejected by approver: {msg.comment}")
        return self._state

    def _check_reject(self, msg: Reject) -> None:
        self._require(Status.pending_approval)
        self._require_approver(msg.approver)

    async def edit(self, msg: TicketEdit) -> TicketState:
        s = self._state
        changed = msg.model_dump(exclude_unset=True, exclude={"actor", "role", "remove_delegate"})
        if msg.remove_delegate:
            s.delegate = None
        for field in changed:
            setattr(s, field, getattr(msg, field))
        self._audit(msg.actor, "edited", detail=", ".join(sorted(changed)) or "delegate removed")
        return s

    def _check_edit(self, msg: TicketEdit) -> None:
        if self._state.status not in EDITABLE:
            raise ApplicationError(
                f"ticket is {self._state.status.value}: from pending_ordering on, approvers "
                "submit a change request (request_change) instead of editing"
            )
        if msg.role == "approver":
            self._require_approver(msg.actor)
        check_edit(self._state, self._ctx.config, msg)

    # The handlers that wait on an activity take `_one_at_a_time` and check again inside it:
    # a customer's pick_slot never overlaps a staff reschedule, and each sees the ticket as
    # the previous one left it (Temporal's safe-message-handlers pattern).

    async def request_change(self, msg: ChangeRequest) -> int:
        async with self._one_at_a_time:
            self._check_request_change(msg)
            s = self._state
            n = sum(1 for a in s.audits if a.action == "change requested") + 1
            created = await self._create_tdx_ticket(
                TdxTicketRequest(
                    key=f"{s.ticket_id}:change-request:{n}",
                    ticket_id=s.ticket_id,
                    kind="change_request",
                    title=f"Change request for refresh {s.ticket_id}",
                    description=f"From approver {msg.approver}: {msg.description}",
                    serial=s.existing_system.serial,
                )
            )
            self._audit(msg.approver, "change requested", detail=f"TDX {created.tdx_ticket_id}")
            return created.tdx_ticket_id

    def _check_request_change(self, msg: ChangeRequest) -> None:
        s = self._state
        if s.status in EDITABLE or s.status in TERMINAL:
            raise ApplicationError(
                f"ticket is {s.status.value}: change requests are for tickets in "
                "pending_ordering or later; before that, edit the ticket"
            )
        self._require_approver(msg.approver)

    async def pick_slot(self, msg: PickSlot) -> TicketState:
        async with self._one_at_a_time:
            self._check_pick_slot(msg)
            await self._book(msg.slot_id, msg.actor, "slot picked")
            return self._state

    def _check_pick_slot(self, msg: PickSlot) -> None:
        self._require(Status.pending_customer_scheduling, Status.delivery_scheduled)
        self._check_slot(msg.slot_id)

    async def reschedule(self, msg: Reschedule) -> TicketState:
        async with self._one_at_a_time:
            self._check_reschedule(msg)
            await self._book(msg.slot_id, msg.actor, f"rescheduled by staff {msg.reason}".strip())
            return self._state

    def _check_reschedule(self, msg: Reschedule) -> None:
        self._require(
            Status.pending_slot_discovery,
            Status.pending_customer_scheduling,
            Status.delivery_scheduled,
        )
        self._check_slot(msg.slot_id)

    async def hold(self, msg: Hold) -> TicketState:
        s = self._state
        s.held_from, s.hold_started = s.status, workflow.now()
        self._set_status(Status.on_hold, msg.actor, msg.reason)
        return s

    def _check_hold(self, msg: Hold) -> None:
        s = self._state
        if s.status in TERMINAL or s.status == Status.on_hold:
            raise ApplicationError(f"ticket is {s.status.value}: it cannot be put on hold")

    async def release(self, msg: Release) -> TicketState:
        s = self._state
        assert s.held_from is not None and s.hold_started is not None
        held_for = workflow.now() - s.hold_started
        s.deadlines = {n: t + held_for for n, t in s.deadlines.items()}
        if s.invite_at and s.held_from == Status.pending_invite:
            s.invite_at += held_for
        status, s.held_from, s.hold_started = s.held_from, None, None
        self._set_status(status, msg.actor, f"released after {held_for}")
        return s

    def _check_release(self, msg: Release) -> None:
        self._require(Status.on_hold)

    async def cancel(self, msg: Cancel) -> TicketState:
        self._cancel(msg.actor, msg.reason)
        return self._state

    def _check_cancel(self, msg: Cancel) -> None:
        if self._state.status in TERMINAL:
            raise ApplicationError(f"ticket is already {self._state.status.value}")

    # ----- signals -------------------------------------------------------------------------

    async def assign_replacement(self, msg: AssignReplacement) -> None:
        s = self._state
        if s.status != Status.pending_ordering or (s.bump_down and s.replacement_system):
            self._audit(msg.actor, "ignored assign_replacement", detail=f"ticket is {s.status}")
            return
        s.replacement_system, s.replacement_group = msg.replacement, msg.group
        if msg.replacement.tracking_number:
            s.tracking_number = msg.replacement.tracking_number
        self._audit(msg.actor, "replacement assigned", detail=msg.replacement.serial)

    async def exchange_replacement(self, msg: ExchangeReplacement) -> None:
        """Swap the system (hardware failure etc.); never advances the ticket."""
        s = self._state
        if s.status in TERMINAL:
            return
        old = s.replacement_system.serial if s.replacement_system else "none"
        s.replacement_system = msg.replacement
        self._audit(msg.actor, "replacement exchanged", detail=f"{old} -> {msg.replacement.serial}")
        workflow.upsert_search_attributes([sa.REPLACEMENT_SERIAL.value_set(msg.replacement.serial)])

    async def slots_available(self, msg: SlotsAvailable) -> None:
        s = self._state
        s.slot_offers = msg.slots
        self._touch()

    async def set_tracking(self, msg: SetTracking) -> None:
        s = self._state
        if s.status in TERMINAL:
            return
        s.tracking_number = msg.tracking_number
        self._audit(msg.actor, "tracking number", detail=msg.tracking_number)

    async def trigger_customer_reschedule(self, msg: TriggerCustomerReschedule) -> None:
        """Free the slot and invite the customer to pick again (e.g. the slot was deleted)."""
        async with self._one_at_a_time:
            s = self._state
            if s.status not in (Status.delivery_scheduled, Status.pending_customer_scheduling):
                self._audit(msg.actor, "ignored reschedule request", detail=f"ticket is {s.status}")
                return
            old = s.slot.slot_id if s.slot else None
            await workflow.execute_activity(
                "release_slot",
                ReleaseSlotRequest(ticket_id=s.ticket_id, reason=msg.reason or "reschedule"),
                start_to_close_timeout=SHORT,
            )
            s.slot, s.day1 = None, None
            s.deadlines.pop("appointment_reminder", None)
            now = workflow.now()
            s.slot_offers = [o for o in s.slot_offers if o.slot_id != old and o.start > now]
            self._set_status(Status.pending_slot_discovery, msg.actor, f"reschedule: {msg.reason}")

    # ----- query ---------------------------------------------------------------------------

    @workflow.query
    def state(self) -> TicketState:
        return self._state

    # ----- handler helpers --------------------------------------------------------------------

    def _require(self, *statuses: Status) -> None:
        s = self._state
        if s.status not in statuses:
            allowed = ", ".join(x.value for x in statuses)
            raise ApplicationError(f"ticket is {s.status.value}; this needs {allowed}")

    def _require_approver(self, who: str) -> None:
        if not self._ctx.config.is_approver(who):
            raise ApplicationError(
                f"{who} is not an approver of refresh config {self._ctx.config.id}"
            )

    def _check_slot(self, slot_id: int) -> None:
        offer = next((o for o in self._state.slot_offers if o.slot_id == slot_id), None)
        if offer is not None and offer.start <= workflow.now():
            raise ApplicationError(f"slot {slot_id} is in the past")
        if self._state.slot and self._state.slot.slot_id == slot_id:
            raise ApplicationError(f"slot {slot_id} is already this ticket's slot")

    async def _book(self, slot_id: int, actor: str, action: str) -> None:
        s = self._state
        try:
            booked = await workflow.execute_activity(
                "book_slot",
                BookSlotRequest(
                    ticket_id=s.ticket_id,
                    team_id=s.support_team,
                    slot_id=slot_id,
                    now=workflow.now(),
                ),
                result_type=BookedSlot,
                start_to_close_timeout=SHORT,
                retry_policy=RetryPolicy(non_retryable_error_types=["SlotUnavailable"]),
            )
        except ActivityError as e:
            # Fail the update with the reason ("slot 4 is full"), not "Activity task failed".
            reason = getattr(e.cause, "message", None) or str(e)
            raise ApplicationError(reason, type="SlotUnavailable") from e
        s.slot, s.day1 = booked, booked.start
        s.schedule_version += 1
        self._audit(actor, action, detail=f"slot {booked.slot_id} at {booked.start.isoformat()}")
        workflow.upsert_search_attributes([sa.DAY1.value_set(booked.start)])

    def _cancel(self, actor: str, reason: str) -> None:
        s = self._state
        s.cancel_reason = reason
        s.held_from = None
        self._set_status(Status.cancelled, actor, reason)
