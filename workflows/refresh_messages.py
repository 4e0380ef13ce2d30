"""What people and other systems may ask of a refresh ticket: its updates and signals.

Every message arrives as raw payloads through two dynamic handlers and is read by
`read_message`: a bad update is refused with the field at fault, a bad signal is dropped
with an audit entry and a warning. Neither can fail the workflow task (null, no argument,
two arguments, wrong type, oversize, undecryptable, unknown name). The tables in
`_message_tables` name every message the ticket takes (the contract's UPDATES and SIGNALS).

Handlers validate and record; the run loop performs what follows (emails, TDX). The few
that must wait on an activity (booking a slot, opening a change request, releasing a slot)
take `_one_at_a_time` and check again inside it, so a customer's pick_slot never overlaps
a staff reschedule and each sees the ticket as the previous one left it (Temporal's
safe-message-handlers pattern).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import search_attributes as sa
    from domain.activity_requests import BookSlotRequest, ReleaseSlotRequest, TdxTicketRequest
    from domain.messages import clip
    from domain.refresh import (
        EDITABLE,
        RESCHEDULABLE,
        SIGNALS,
        SLOT_PICKING,
        TERMINAL,
        UPDATES,
        Approve,
        AssignReplacement,
        Cancel,
        ChangeRequest,
        ConfigChanged,
        Deadline,
        ExchangeReplacement,
        Hold,
        PickSlot,
        ProvideLocation,
        Reject,
        Release,
        Reschedule,
        SendInviteNow,
        SetTracking,
        SlotsAvailable,
        Status,
        TicketEdit,
        TicketState,
        TriggerCustomerReschedule,
        UpdateAck,
        WizardSubmission,
    )
    from domain.refresh_rules import (
        check_edit,
        check_provide_location,
        check_wizard,
        link_actor,
        send_invite_now_refusal,
        signal_refusal,
    )
    from workflows import refresh_activities as act
    from workflows.messages import MessageRefused, read_message
    from workflows.refresh_base import TicketBase

Check = Callable[[Any], None]
Handle = Callable[[Any], Awaitable[Any]]


class TicketMessages(TicketBase):
    def _message_tables(self) -> None:
        self._updates: dict[str, tuple[Check, Handle]] = {
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
            "send_invite_now": (self._check_send_invite_now, self.send_invite_now),
        }
        self._signals: dict[str, Handle] = {
            "assign_replacement": self.assign_replacement,
            "exchange_replacement": self.exchange_replacement,
            "slots_available": self.slots_available,
            "set_tracking": self.set_tracking,
            "trigger_customer_reschedule": self.trigger_customer_reschedule,
            "config_changed": self.config_changed,
        }
        assert set(self._updates) == set(UPDATES) and set(self._signals) == set(SIGNALS)

    # ----- reading messages ------------------------------------------------------------------

    @workflow.update(dynamic=True)
    async def _on_update(self, name: str, args: Sequence[RawValue]) -> Any:
        _, handle = self._updates[name]
        self._replying = True
        result = await handle(self._read_update(name, args))
        # The caller needs to know it was accepted, not the whole ticket (see UpdateAck).
        if isinstance(result, TicketState):
            return UpdateAck(ticket_id=self.s.ticket_id, status=self.s.status)
        return result

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

    # ----- the customer ------------------------------------------------------------------

    async def submit_wizard(self, msg: WizardSubmission) -> TicketState:
        s = self.s
        s.location = msg.location if s.style == "on_prem" else s.location
        s.shipping_address = msg.shipping_address or s.shipping_address
        s.device = msg.device or s.device
        if msg.peripherals is not None:
            s.peripherals = msg.peripherals
        s.software = msg.software
        s.wizard_submitted = s.location_known = True
        self._audit(link_actor(s, msg.actor), "wizard submitted")
        self._confirmed = self._follow_up_after_reply
        return s

    def _check_submit_wizard(self, msg: WizardSubmission) -> None:
        link_actor(self.s, msg.actor)  # first: any other refusal is shown to a valid link
        self._require(Status.pending_wizard)
        if self.s.wizard_submitted:
            raise ApplicationError("the wizard is already submitted")
        check_wizard(self.s, self.ctx.config, msg)

    async def pick_slot(self, msg: PickSlot) -> TicketState:
        async with self._one_at_a_time:
            self._check_pick_slot(msg)
            await self._book(msg.slot_id, msg.actor, "slot picked")
            return self.s

    def _check_pick_slot(self, msg: PickSlot) -> None:
        self._require(*SLOT_PICKING)
        self._check_slot(msg.slot_id)

    # ----- approvers -----------------------------------------------------------------------

    async def approve(self, msg: Approve) -> TicketState:
        self.s.approved_by = msg.approver
        self._audit(msg.approver, "approved", detail=msg.comment)
        return self.s

    def _check_approve(self, msg: Approve) -> None:
        self._require(Status.pending_approval)
        self._require_approver(msg.approver)

    async def reject(self, msg: Reject) -> TicketState:
        self._cancel(msg.approver, f"rejected by approver: {msg.comment}")
        return self.s

    def _check_reject(self, msg: Reject) -> None:
        self._require(Status.pending_approval)
        self._require_approver(msg.approver)

    async def edit(self, msg: TicketEdit) -> TicketState:
        changed = msg.model_dump(exclude_unset=True, exclude={"actor", "role", "remove_delegate"})
        if msg.remove_delegate:
            self.s.delegate = None
        for field in changed:
            setattr(self.s, field, getattr(msg, field))
        self._audit(msg.actor, "edited", detail=", ".join(sorted(changed)) or "delegate removed")
        return self.s

    def _check_edit(self, msg: TicketEdit) -> None:
        if self.s.status not in EDITABLE:
            raise ApplicationError(
                f"ticket is {self.s.status.value}: from pending_ordering on, approvers "
                "submit a change request (request_change) instead of editing"
            )
        if msg.role == "approver":
            self._require_approver(msg.actor)
        check_edit(self.s, self.ctx.config, msg)

    async def request_change(self, msg: ChangeRequest) -> int:
        async with self._one_at_a_time:
            self._check_request_change(msg)
            s = self.s
            created = await act.tdx_create_ticket(
                TdxTicketRequest(
                    key=f"{s.ticket_id}:change-request:{s.change_requests + 1}",
                    ticket_id=s.ticket_id,
                    kind="change_request",
                    title=f"Change request for refresh {s.ticket_id}",
                    description=f"From approver {msg.approver}: {msg.description}",
                    serial=s.existing_system.serial,
                )
            )
            s.change_requests += 1
            self._audit(msg.approver, "change requested", detail=f"TDX {created.tdx_ticket_id}")
            return created.tdx_ticket_id

    def _check_request_change(self, msg: ChangeRequest) -> None:
        if self.s.status in EDITABLE or self.s.status in TERMINAL:
            raise ApplicationError(
                f"ticket is {self.s.status.value}: change requests are for tickets in "
                "pending_ordering or later; before that, edit the ticket"
            )
        self._require_approver(msg.approver)

    # ----- staff -----------------------------------------------------------------------------

    async def provide_location(self, msg: ProvideLocation) -> TicketState:
        if self.s.style == "remote":
            self.s.shipping_address = msg.shipping_address
        elif self.s.style == "on_prem":
            self.s.location = msg.location
        self.s.location_known = True
        self._audit(msg.actor, "location provided", detail=msg.location or "")
        return self.s

    def _check_provide_location(self, msg: ProvideLocation) -> None:
        self._require(Status.pending_location_info)
        check_provide_location(self.s, msg)

    async def reschedule(self, msg: Reschedule) -> TicketState:
        async with self._one_at_a_time:
            self._check_reschedule(msg)
            await self._book(msg.slot_id, msg.actor, f"rescheduled by staff {msg.reason}".strip())
            return self.s

    def _check_reschedule(self, msg: Reschedule) -> None:
        self._require(*RESCHEDULABLE)
        self._check_slot(msg.slot_id)

    async def hold(self, msg: Hold) -> TicketState:
        self.s.held_from, self.s.hold_started = self.s.status, workflow.now()
        self._set_status(Status.on_hold, msg.actor, msg.reason)
        return self.s

    def _check_hold(self, msg: Hold) -> None:
        if self.s.status in TERMINAL or self.s.status == Status.on_hold:
            raise ApplicationError(f"ticket is {self.s.status.value}: it cannot be put on hold")

    async def release(self, msg: Release) -> TicketState:
        """Back to the status it was held in, every deadline later by the time on hold."""
        s = self.s
        assert s.held_from is not None and s.hold_started is not None
        held_for = workflow.now() - s.hold_started
        s.deadlines = {n: t + held_for for n, t in s.deadlines.items()}
        status, s.held_from, s.hold_started = s.held_from, None, None
        self._set_status(status, msg.actor, f"released after {held_for}")
        return s

    def _check_release(self, msg: Release) -> None:
        self._require(Status.on_hold)

    async def cancel(self, msg: Cancel) -> TicketState:
        self._cancel(msg.actor, msg.reason)
        return self.s

    def _check_cancel(self, msg: Cancel) -> None:
        if self.s.status in TERMINAL:
            raise ApplicationError(f"ticket is already {self.s.status.value}")

    async def send_invite_now(self, msg: SendInviteNow) -> TicketState:
        """The invite deadline moves to now; the run loop (waiting on it) sends the invite."""
        self.s.deadlines[Deadline.invite] = workflow.now()
        self._audit(msg.actor, "invite sent now", detail=msg.reason)
        self._touch()
        return self.s

    def _check_send_invite_now(self, msg: SendInviteNow) -> None:
        refusal = send_invite_now_refusal(self.s)
        if refusal:
            raise ApplicationError(refusal)

    # ----- signals ---------------------------------------------------------------------------

    async def assign_replacement(self, msg: AssignReplacement) -> None:
        """The order group's (bulk) assignment: ordering is done, the ticket advances."""
        s = self.s
        if signal_refusal(s, "assign_replacement"):
            self._audit(msg.actor, "ignored assign_replacement", detail=f"ticket is {s.status}")
            return
        s.replacement_system, s.replacement_group = msg.replacement, msg.group
        s.replacement_assigned = True
        if msg.replacement.tracking_number:
            s.tracking_number = msg.replacement.tracking_number
        self._audit(msg.actor, "replacement assigned", detail=msg.replacement.serial)

    async def exchange_replacement(self, msg: ExchangeReplacement) -> None:
        """Swap the system (hardware failure etc.); never advances the ticket."""
        s = self.s
        if signal_refusal(s, "exchange_replacement"):
            return
        old = s.replacement_system.serial if s.replacement_system else "none"
        s.replacement_system = msg.replacement
        self._audit(msg.actor, "replacement exchanged", detail=f"{old} -> {msg.replacement.serial}")
        if not self._attributes_from_sync():
            workflow.upsert_search_attributes(
                [sa.REPLACEMENT_SERIAL.value_set(msg.replacement.serial)]
            )

    async def slots_available(self, msg: SlotsAvailable) -> None:
        self.s.slot_offers = msg.slots
        self._touch()

    async def set_tracking(self, msg: SetTracking) -> None:
        if signal_refusal(self.s, "set_tracking"):
            return
        self.s.tracking_number = msg.tracking_number
        self._audit(msg.actor, "tracking number", detail=msg.tracking_number)

    async def config_changed(self, msg: ConfigChanged) -> None:
        """Note the newer config; the loop reloads it before its next step (no I/O here)."""
        s = self.s
        if (
            signal_refusal(s, "config_changed")
            or msg.config_id != s.config_id
            or self._context is None
        ):
            return  # a run that has not loaded its config yet will load the newest one
        if msg.version > max(self.ctx.config.version, self._config_wanted or 0):
            self._config_wanted = msg.version
            self._touch()

    async def trigger_customer_reschedule(self, msg: TriggerCustomerReschedule) -> None:
        """Free the slot and invite the customer to pick again (e.g. the slot was deleted)."""
        async with self._one_at_a_time:
            s = self.s
            if signal_refusal(s, "trigger_customer_reschedule"):
                self._audit(msg.actor, "ignored reschedule request", detail=f"ticket is {s.status}")
                return
            old = s.slot.slot_id if s.slot else None
            await act.release_slot(
                ReleaseSlotRequest(ticket_id=s.ticket_id, reason=msg.reason or "reschedule")
            )
            s.slot, s.pick_again = None, True
            s.deadlines.pop(Deadline.appointment_reminder, None)
            now = workflow.now()
            s.slot_offers = [o for o in s.slot_offers if o.slot_id != old and o.start > now]
            self._set_status(Status.pending_slot_discovery, msg.actor, f"reschedule: {msg.reason}")

    # ----- the query -------------------------------------------------------------------------

    @workflow.query
    def state(self) -> TicketState:
        return self.s

    # ----- shared by the handlers ------------------------------------------------------------

    def _require(self, *statuses: Status) -> None:
        if self.s.status not in statuses:
            allowed = ", ".join(x.value for x in statuses)
            raise ApplicationError(f"ticket is {self.s.status.value}; this needs {allowed}")

    def _require_approver(self, who: str) -> None:
        if not self.ctx.config.is_approver(who):
            raise ApplicationError(
                f"{who} is not an approver of refresh config {self.ctx.config.id}"
            )

    def _check_slot(self, slot_id: int) -> None:
        offer = next((o for o in self.s.slot_offers if o.slot_id == slot_id), None)
        if offer is not None and offer.start <= workflow.now():
            raise ApplicationError(f"slot {slot_id} is in the past")
        if self.s.slot and self.s.slot.slot_id == slot_id:
            raise ApplicationError(f"slot {slot_id} is already this ticket's slot")

    async def _book(self, slot_id: int, actor: str, action: str) -> None:
        s = self.s
        request = BookSlotRequest(
            ticket_id=s.ticket_id, team_id=s.support_team, slot_id=slot_id, now=workflow.now()
        )
        try:
            booked = await act.book_slot(request)
        except ActivityError as e:
            # Fail the update with the reason ("slot 4 is full"), not "Activity task failed".
            reason = getattr(e.cause, "message", None) or str(e)
            raise ApplicationError(reason, type="SlotUnavailable") from e
        s.slot, s.pick_again = booked, False
        s.schedule_version += 1
        self._audit(actor, action, detail=f"slot {booked.slot_id} at {booked.start.isoformat()}")
        if not self._attributes_from_sync():
            workflow.upsert_search_attributes([sa.DAY1.value_set(booked.start)])

    def _cancel(self, actor: str, reason: str) -> None:
        self.s.cancel_reason = reason
        self.s.held_from = None
        self._set_status(Status.cancelled, actor, reason)
