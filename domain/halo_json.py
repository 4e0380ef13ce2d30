"""HaloPSA's JSON to and from the ITSM port's model: pure, shared by the adapter and the hook.

Halo serialises enums as numbers: `tickettype_id` (1 Incident, 3 Service Request, 4 Problem
in a default tenant), `status_id` (1 New, 9 Closed; any status flagged `onhold` pauses the
SLA), `priority_id`, and on actions `who_type` (1 agent, 2 end user) and `new_status`. Dates
are UTC without an offset. A webhook body holds the ticket and the action that caused it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.itsm import (
    ActionKind,
    ItsmEvent,
    Person,
    ServiceDeskTicket,
    TicketAction,
    TicketChange,
    TicketKind,
    TicketStatus,
    TimeEntry,
)

TICKET_TYPES = {1: TicketKind.incident, 3: TicketKind.service_request, 4: TicketKind.problem}
TYPE_IDS = {kind: type_id for type_id, kind in TICKET_TYPES.items()}
STATUS_NEW, STATUS_IN_PROGRESS, STATUS_ON_HOLD, STATUS_RESOLVED, STATUS_CLOSED = 1, 2, 4, 8, 9
STATUS_IDS = {
    TicketStatus.new: STATUS_NEW,
    TicketStatus.in_progress: STATUS_IN_PROGRESS,
    TicketStatus.on_hold: STATUS_ON_HOLD,
    TicketStatus.resolved: STATUS_RESOLVED,
    TicketStatus.closed: STATUS_CLOSED,
    TicketStatus.cancelled: STATUS_CLOSED,
}
WHO_AGENT, WHO_END_USER = 1, 2
# A default tenant's statuses flagged "on hold" (Waiting on User, On Hold): an action only
# carries the id of the status it set, not the status's flag.
HOLD_STATUS_IDS = frozenset({3, STATUS_ON_HOLD})


def parse_time(value: Any) -> datetime | None:
    """Halo's "2026-11-28T07:00:00" (UTC, no offset); an offset, if present, is honoured."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _status(d: dict[str, Any]) -> TicketStatus:
    status_id = int(d.get("status_id") or STATUS_NEW)
    if status_id == STATUS_CLOSED:
        return TicketStatus.closed
    if status_id == STATUS_RESOLVED:
        return TicketStatus.resolved
    if d.get("onhold"):
        return TicketStatus.on_hold
    return TicketStatus.new if status_id == STATUS_NEW else TicketStatus.in_progress


def status_of_id(status_id: int) -> TicketStatus:
    """The port's status for a Halo status id (an action's `new_status`)."""
    if status_id == STATUS_CLOSED:
        return TicketStatus.closed
    if status_id == STATUS_RESOLVED:
        return TicketStatus.resolved
    if status_id in HOLD_STATUS_IDS:
        return TicketStatus.on_hold
    return TicketStatus.new if status_id == STATUS_NEW else TicketStatus.in_progress


def ticket_from_halo(d: dict[str, Any]) -> ServiceDeskTicket:
    """A Halo ticket object as the port's ticket (ValueError/ValidationError if malformed)."""
    opened = parse_time(d.get("dateoccurred"))
    if opened is None:
        raise ValueError("ticket.dateoccurred is missing")
    return ServiceDeskTicket(
        itsm="halo",
        id=str(int(d["id"])),
        kind=TICKET_TYPES.get(int(d.get("tickettype_id") or 1), TicketKind.incident),
        summary=str(d.get("summary") or "")[:500],
        details=str(d.get("details") or "")[:20_000],
        client=str(d.get("client_name") or d.get("client_id") or ""),
        department=str(d.get("site_name") or ""),
        client_note=str(d.get("user_notes") or "")[:500],
        category=str(d.get("category_1") or ""),
        priority=str(d.get("priority_id") or ""),
        status=_status(d),
        status_name=str(d.get("status_name") or ""),
        team=str(d.get("team") or ""),
        agent=str(d.get("agent_id") or ""),
        user=Person(
            id=str(d.get("user_id") or ""),
            name=str(d.get("user_name") or ""),
            email=d.get("user_email") or None,
        ),
        opened_at=opened,
        updated_at=parse_time(d.get("lastactiondate")) or opened,
        problem_id=str(int(d["parent_id"])) if d.get("parent_id") else None,
        respond_by=parse_time(d.get("respondbydate")),
        fix_by=parse_time(d.get("fixbydate")),
        custom_fields={str(f["id"]): str(f.get("value", "")) for f in d.get("customfields") or []},
    )


def action_from_halo(a: dict[str, Any]) -> TicketAction:
    """A Halo action as the port's action; only an agent's visible email answers the user."""
    agent = int(a.get("who_type") or WHO_AGENT) == WHO_AGENT
    new_status = a.get("new_status")
    if int(a["id"]) == 1 or a.get("outcome") == "Logged":
        kind = ActionKind.created
    elif new_status and int(new_status) == STATUS_CLOSED:
        kind = ActionKind.closed
    elif new_status:
        kind = ActionKind.status_change
    elif not agent:
        kind = ActionKind.user_update
    elif not a.get("hiddenfromuser") and (a.get("sendemail") or "Email" in str(a.get("outcome"))):
        kind = ActionKind.agent_reply
    elif a.get("hiddenfromuser"):
        kind = ActionKind.agent_note
    else:
        kind = ActionKind.other
    at = parse_time(a.get("datetime"))
    if at is None:
        raise ValueError("action.datetime is missing")
    hours = Decimal(str(a.get("timetaken") or 0))
    time = None
    if hours > 0:
        charge = int(a.get("chargerate") or 0)
        time = TimeEntry(hours=hours, work_type_id=charge or None)
    return TicketAction(
        id=str(int(a["id"])),
        kind=kind,
        at=at,
        by=str(a.get("who") or ""),
        text=str(a.get("note_html") or a.get("note") or "")[:20_000],
        to_user=kind == ActionKind.agent_reply,
        time=time,
        new_status=status_of_id(int(new_status)) if new_status else None,
    )


def event_from_webhook(body: Any, delivery_id: str) -> ItsmEvent:
    """A Halo webhook body (`{ticket, action}`) as an event; ValueError names what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("ticket"), dict):
        raise ValueError("body.ticket: expected the ticket object")
    action = body.get("action")
    if action is not None and not isinstance(action, dict):
        raise ValueError("body.action: expected an object or null")
    try:
        ticket = ticket_from_halo(body["ticket"])
        parsed = action_from_halo(action) if action else None
    except (KeyError, TypeError) as exc:
        raise ValueError(f"body: missing or malformed field {exc}") from exc
    return ItsmEvent(itsm="halo", delivery_id=delivery_id, ticket=ticket, action=parsed)


def halo_update(change: TicketChange) -> dict[str, Any]:
    """The array element of `POST /api/Tickets` that applies a port change."""
    out: dict[str, Any] = {"id": int(change.ticket_id)}
    if change.kind is not None:
        out["tickettype_id"] = TYPE_IDS[change.kind]
    if change.status is not None:
        out["status_id"] = STATUS_IDS[change.status]
    if change.priority is not None:
        out["priority_id"] = int(change.priority)
    if change.team is not None:
        out["team"] = change.team
    if change.agent is not None:
        out["agent_id"] = int(change.agent)
    if change.category is not None:
        out["category_1"] = change.category
    if change.category_id is not None:
        out["categoryid_1"] = change.category_id
    if change.respond_by is not None:
        out["respondbydate"] = format_time(change.respond_by)
    if change.fix_by is not None:
        out["fixbydate"] = format_time(change.fix_by)
    if change.custom_fields:
        out["customfields"] = [{"id": int(k), "value": v} for k, v in change.custom_fields.items()]
    return out
