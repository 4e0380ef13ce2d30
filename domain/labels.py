"""People's words for the codes a refresh ticket carries: statuses, styles, event kinds.

One table, used by the staff and customer pages, the emails and the refusals the CLI and
web print, so "pending_itsm_existence" never reaches a person and every screen calls a
status by the same name. A code missing from the table falls back to itself with its
underscores as spaces (a new status still reads, and the label test names what is missing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

STATUS_LABELS: Mapping[str, str] = {
    "pending_invite": "Waiting to invite the customer",
    "pending_wizard": "Waiting for the customer's choices",
    "pending_location_info": "Waiting for a delivery location from staff",
    "pending_approval": "Waiting for approval",
    "pending_ordering": "Waiting for a replacement computer",
    "pending_itsm_existence": "Waiting for the new computer to appear in TDX",
    "pending_slot_discovery": "Waiting for appointment times",
    "pending_customer_scheduling": "Waiting for the customer to pick a time",
    "delivery_scheduled": "Appointment booked",
    "pending_delivery": "Being shipped",
    "installed": "Installed",
    "complete": "Complete",
    "on_hold": "On hold",
    "cancelled": "Cancelled",
}

STYLE_LABELS: Mapping[str, str] = {
    "on_prem": "On-site appointment",
    "remote": "Shipped to the customer (@home)",
    "unit_location": "Delivered to the unit's location",
    "no_customer": "No customer (shared or lab computer)",
}

# Events: what deskflow changed in TDX, Slack and the ticket's other systems.
EVENT_LABELS: Mapping[str, str] = {
    "tdx.refresh_ticket": "TDX refresh ticket created",
    "tdx.changed_location_ticket": "TDX ticket opened to confirm a changed location",
    "tdx.change_request_ticket": "TDX change request opened",
    "tdx.task_created": "TDX task created",
    "tdx.task_completed": "TDX task completed",
    "tdx.day1_scheduled": "Day 1 scheduled in TDX",
    "tdx.feed": "Comment added to the TDX ticket",
    "slack.posted": "Posted to Slack",
    "prestaged": "Replacement prestaged",
    "changed_location": "Customer gave a new location",
}

PLATFORM_LABELS: Mapping[str, str] = {"windows": "Windows", "mac": "Mac"}

TABLES: Mapping[str, Mapping[str, str]] = {
    "status": STATUS_LABELS,
    "style": STYLE_LABELS,
    "event": EVENT_LABELS,
    "platform": PLATFORM_LABELS,
}


def label(code: Any, table: str = "status") -> str:
    """The words for `code` (an enum member or its value) in one of TABLES."""
    value = code.value if isinstance(code, Enum) else str(code or "")
    return TABLES[table].get(value) or value.replace("_", " ").replace(".", " ")


def event_sentence(
    kind: str, detail: Mapping[str, Any] | None, when: Callable[[str], str] = str
) -> str:
    """An event as a sentence ("TDX task created: task 12"), never a dict's repr; `when`
    words an ISO instant (the pages' time zone and format)."""
    detail = detail or {}
    head = label(kind, "event")
    parts: list[str] = []
    if "tdx_ticket_id" in detail:
        parts.append(f"TDX ticket {detail['tdx_ticket_id']}")
    if "task_id" in detail:
        parts.append(f"task {detail['task_id']}")
    if "serial" in detail:
        parts.append(f"computer {detail['serial']}")
    if detail.get("group"):
        parts.append(f"into group {detail['group']}")
    if "from" in detail or "to" in detail:
        parts.append(f"from “{detail.get('from') or 'unknown'}” to “{detail.get('to') or ''}”")
    if detail.get("start"):
        parts.append(f"for {when(detail['start'])}")
    if detail.get("location"):
        parts.append(f"at {detail['location']}")
    if detail.get("channel"):
        parts.append(f"in {detail['channel']}")
    if detail.get("comment"):
        parts.append(f"“{detail['comment']}”")
    return f"{head}: {', '.join(parts)}" if parts else head


def replacement_note(state: Any) -> str | None:
    """For the customer: why the computer we send differs from the one they chose, from what
    the ticket knows (their choice, an exchange, the order group's assignment); None when it
    does not differ or nothing is assigned yet."""
    rep, chose = state.replacement_system, state.device
    if rep is None or chose is None:
        return None
    exchanged = state.replacement_exchanged
    if chose.none_adequate:
        return (
            f"You asked for a different device; we are sending a {rep.model}, which "
            "your unit's order group chose for you after reading your request."
        )
    if chose.model == rep.model:
        return None
    if exchanged:
        why = "the computer first prepared for you had to be exchanged (for example after a fault)"
    elif chose.platform != rep.platform:
        why = (
            f"your unit's order group could only supply a {label(rep.platform, 'platform')} "
            "computer for this refresh"
        )
    else:
        why = "it is the model your unit's order group had in stock for this refresh"
    return (
        f"You chose a {chose.model}; we are sending a {rep.model} because {why}. If it does "
        "not suit your work, reply to the email this link came in before your appointment."
    )
