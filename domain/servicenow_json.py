"""ServiceNow Table API JSON to and from the ITSM port's model: pure, for adapter and hook.

Every value arrives as a string; incident `state` is "1" New, "2" In Progress, "3" On Hold,
"6" Resolved, "7" Closed, "8" Canceled; reference fields are `{link, value}` objects unless
display values were asked for (the adapter asks, so names come back). Journal entries
(`sys_journal_field`) are the ticket's conversation: `comments` are visible to the caller
(an agent's is a reply, the caller's an update), `work_notes` are internal. deskflow keeps
its due dates in two custom fields, since an incident has no respond-by field of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
)

STATES = {
    "1": TicketStatus.new,
    "2": TicketStatus.in_progress,
    "3": TicketStatus.on_hold,
    "6": TicketStatus.resolved,
    "7": TicketStatus.closed,
    "8": TicketStatus.cancelled,
}
STATE_CODES = {status: code for code, status in STATES.items()}
RESPOND_BY, RESOLVE_BY = "u_deskflow_respond_by", "u_deskflow_resolve_by"
FIELDS = (
    "sys_id,number,short_description,description,state,priority,category,company,"
    "assignment_group,assigned_to,caller_id,caller_id.email,opened_at,sys_updated_on,"
    f"problem_id,close_code,close_notes,{RESPOND_BY},{RESOLVE_BY},"
    "caller_id.department,caller_id.u_red_flag_note"
)


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _text(value: Any) -> str:
    """A field's display text, whether it came as a string or a {link, value} reference."""
    if isinstance(value, dict):
        return str(value.get("display_value") or value.get("value") or "")
    return "" if value is None else str(value)


def ticket_from_servicenow(r: dict[str, Any], table: str = "incident") -> ServiceDeskTicket:
    opened = parse_time(r.get("opened_at") or r.get("sys_created_on"))
    if opened is None:
        raise ValueError("record.opened_at is missing")
    state = _text(r.get("state")) or "1"
    return ServiceDeskTicket(
        itsm="servicenow",
        id=_text(r["number"]),
        kind=TicketKind.problem if table == "problem" else TicketKind.incident,
        summary=_text(r.get("short_description"))[:500],
        details=_text(r.get("description"))[:20_000],
        client=_text(r.get("company")),
        department=_text(r.get("caller_id.department")),
        client_note=_text(r.get("caller_id.u_red_flag_note"))[:500],
        category=_text(r.get("category")),
        priority=_text(r.get("priority")),
        status=STATES.get(state, TicketStatus.in_progress),
        status_name=state,
        team=_text(r.get("assignment_group")),
        agent=_text(r.get("assigned_to")),
        user=Person(name=_text(r.get("caller_id")), email=_text(r.get("caller_id.email")) or None),
        opened_at=opened,
        updated_at=parse_time(r.get("sys_updated_on")) or opened,
        problem_id=_text(r.get("problem_id")) or None,
        respond_by=parse_time(r.get(RESPOND_BY)),
        fix_by=parse_time(r.get(RESOLVE_BY)),
    )


def action_from_journal(j: dict[str, Any], caller: Person) -> TicketAction:
    """A journal entry as an action: the caller's comment is an update, an agent's a reply."""
    by = _text(j.get("sys_created_by"))
    element = _text(j.get("element"))
    if element == "work_notes":
        kind = ActionKind.agent_note
    elif by and by in (caller.name, caller.email):
        kind = ActionKind.user_update
    else:
        kind = ActionKind.agent_reply
    at = parse_time(j.get("sys_created_on"))
    if at is None:
        raise ValueError("journal.sys_created_on is missing")
    stamp = at.strftime("%Y%m%d%H%M%S")
    return TicketAction(
        id=f"{stamp}-{_text(j['sys_id'])[:12]}",
        kind=kind,
        at=at,
        by=by,
        text=_text(j.get("value"))[:20_000],
        to_user=kind == ActionKind.agent_reply,
    )


def event_from_webhook(body: Any, delivery_id: str) -> ItsmEvent:
    """The REST message our business rule sends: `{table, operation, record, journal}`."""
    if not isinstance(body, dict) or not isinstance(body.get("record"), dict):
        raise ValueError("body.record: expected the incident record")
    journal = body.get("journal")
    if journal is not None and not isinstance(journal, dict):
        raise ValueError("body.journal: expected an object or null")
    try:
        ticket = ticket_from_servicenow(body["record"], str(body.get("table") or "incident"))
        action = action_from_journal(journal, ticket.user) if journal else None
    except (KeyError, TypeError) as exc:
        raise ValueError(f"body: missing or malformed field {exc}") from exc
    if action is None and body.get("operation") == "insert":
        action = TicketAction(id="0-created", kind=ActionKind.created, at=ticket.opened_at)
    return ItsmEvent(itsm="servicenow", delivery_id=delivery_id, ticket=ticket, action=action)


def servicenow_update(change: TicketChange) -> dict[str, Any]:
    """The PATCH body that applies a port change (notes go in `work_notes`)."""
    out: dict[str, Any] = {}
    if change.status is not None:
        out["state"] = STATE_CODES[change.status]
    if change.priority is not None:
        out["priority"] = change.priority
    if change.team is not None:
        out["assignment_group"] = change.team
    if change.agent is not None:
        out["assigned_to"] = change.agent
    if change.category is not None:
        out["category"] = change.category
    if change.respond_by is not None:
        out[RESPOND_BY] = format_time(change.respond_by)
    if change.fix_by is not None:
        out[RESOLVE_BY] = format_time(change.fix_by)
    out.update(change.custom_fields)
    if change.note:
        out["work_notes"] = change.note
    return out
