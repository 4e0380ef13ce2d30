"""Schedule Slot Admins delete a slot (staffing problem); its customers pick again.

Seed 001: "Schedule Slot Admins may also delete schedule slots from the calendar in order to
react to scheduling/staffing issues". The slot is soft-deleted with who did it (the calendar
keeps its history, and nightly generation does not re-create it), its bookings are released
in the same transaction, and each booked ticket is signalled `trigger_customer_reschedule`:
the ticket workflow goes back to slot discovery and emails `schedule_invite` again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from domain.refresh import TriggerCustomerReschedule, workflow_id
from store import slots as slot_rules
from store.tables import ScheduleSlot, Ticket

SlotUnavailable = slot_rules.SlotUnavailable


class NotifyFailure(BaseModel):
    ticket_id: str
    reason: str


class DeleteSlotResult(BaseModel):
    slot_id: int
    deleted_by: str
    already_deleted: bool
    tickets: list[str] = Field(description="tickets whose booking the deletion released")
    notified: list[str] = Field(default_factory=list)
    failed: list[NotifyFailure] = Field(default_factory=list)


def _delete(
    sessions: sessionmaker[Session], slot_id: int, by: str, now: datetime
) -> tuple[bool, list[str]]:
    with sessions.begin() as db:
        slot = db.get(ScheduleSlot, slot_id)
        if slot is None:
            raise SlotUnavailable(f"slot {slot_id} does not exist")
        already = slot.deleted_at is not None
        tickets = slot_rules.delete_slot(db, slot_id, by, now)
        if already and tickets:
            # Deleted before (this is a retry): notify only tickets still on this slot, never
            # one that has rebooked since (the signal would free its new slot).
            still = set(
                db.scalars(
                    select(Ticket.ticket_id).where(
                        Ticket.ticket_id.in_(tickets), Ticket.slot_id == slot_id
                    )
                )
            )
            tickets = [t for t in tickets if t in still]
        return already, tickets


async def delete_slot_and_notify(
    client: Client,
    sessions: sessionmaker[Session],
    slot_id: int,
    by: str,
    *,
    now: datetime | None = None,
) -> DeleteSlotResult:
    """Delete slot `slot_id` (recording `by`) and ask each of its tickets to reschedule.

    Raises `SlotUnavailable` ("slot 7 does not exist"). A ticket whose workflow cannot be
    signalled is reported in `failed`; the deletion stands. Safe to repeat.
    """
    if not by.strip():
        raise ValueError("say who deletes the slot (by)")
    already, tickets = _delete(sessions, slot_id, by.strip(), now or datetime.now(UTC))
    result = DeleteSlotResult(
        slot_id=slot_id, deleted_by=by.strip(), already_deleted=already, tickets=tickets
    )
    msg = TriggerCustomerReschedule(actor=by.strip(), reason=f"slot {slot_id} deleted")
    for ticket_id in tickets:
        try:
            await client.get_workflow_handle(workflow_id(ticket_id)).signal(
                "trigger_customer_reschedule", msg
            )
        except RPCError as e:
            result.failed.append(NotifyFailure(ticket_id=ticket_id, reason=e.message))
        else:
            result.notified.append(ticket_id)
    return result
