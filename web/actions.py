"""Every action the web app offers, once: the JSON API and the pages both call these.

An action checks who may do it to which ticket, fills in the actor from the session (nobody
can act in another's name), and sends the contract's update or signal. What the workflow
refuses comes back as a `FieldError`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from temporalio.common import WorkflowIDConflictPolicy

from domain.refresh import (
    BATCH_WORKFLOW_TYPE,
    RESCHEDULABLE,
    SLOT_PICKING,
    TICKET_ID_PATTERN,
    BatchRow,
    ConfigView,
    RefusedRow,
    TicketState,
    UpdateAck,
    batch_workflow_id,
)
from domain.refresh_rules import LINK, options_of
from operations import bulk, slot_admin, tickets
from operations.batches import (
    BatchFileError,
    discard_batch,
    parse_serials_csv,
    prepare_batch,
)
from operations.errors import FieldError, forbidden, not_found
from store import slot_feed, slot_preferences
from store.tables import Ticket
from web import queries, schemas, wizard
from web.deps import Customer, WebApp
from web.security import Perm, Staff

# Where customers pick slots / staff reschedule: the lifecycle's sets, defined in domain.
SLOT_STATUSES = SLOT_PICKING


# ----- customers ------------------------------------------------------------------------


async def customer_state(app: WebApp, who: Customer) -> TicketState:
    return await tickets.state(await app.client(), who.ticket_id)


async def ticket_state(app: WebApp, ticket_id: str) -> TicketState:
    return await tickets.state(await app.client(), ticket_id)


async def ticket_config(
    app: WebApp, config_id: str, state: TicketState | None = None
) -> ConfigView:
    """The config as the ticket `state` acts under it: with the ticket's own options (set at
    its start, then as config edits reach it), so pages offer what the workflow accepts."""
    cfg = await app.read_cached(queries.config, config_id)
    if cfg is None:
        raise not_found(f"refresh config {config_id} is not loaded")
    if state is None:
        return cfg
    return cfg.model_copy(update={"options": options_of(state, cfg)})


def customer_actor(who: Customer) -> str:
    return f"{'delegate' if who.is_delegate else 'customer'}:{who.email}"


async def submit_wizard(app: WebApp, who: Customer, data: dict[str, Any]) -> UpdateAck:
    """Send `submit_wizard` as it is: the workflow's validator checks it with the same
    domain rules the pages use, and its refusal names the field (a 409/422 FieldError).
    The actor is the link's address (`link:`): the workflow checks it is still the user's
    or the delegate's (a 404 if not) and records which."""
    data = {**data, "actor": f"{LINK}{who.email}"}
    return await tickets.update(await app.client(), who.ticket_id, "submit_wizard", data)


async def customer_slots(app: WebApp, who: Customer, state: TicketState) -> list:
    """Free slots of the customer's team, if they may pick one now."""
    if state.style not in wizard.SCHEDULING_STYLES or state.status not in SLOT_STATUSES:
        return []
    slots = await app.read(queries.free_slots, state.support_team, app.now())
    current = state.slot.slot_id if state.slot else None
    return [s for s in slots if s.id != current]


async def pick_slot(app: WebApp, who: Customer, slot_id: Any) -> UpdateAck:
    state = await customer_state(app, who)
    if state.style not in wizard.SCHEDULING_STYLES:
        raise FieldError(409, "this refresh has no appointment to pick", "slot_id")
    if state.status not in SLOT_STATUSES:
        raise FieldError(
            409,
            f"appointments cannot be picked now: this refresh is {state.status.value}",
            "slot_id",
        )
    try:
        slot_id = int(slot_id)
    except (TypeError, ValueError):
        raise FieldError(422, "choose one of the times shown", "slot_id") from None
    if slot_id not in {s.id for s in await customer_slots(app, who, state)}:
        raise FieldError(409, "that time is no longer available; please pick another", "slot_id")
    return await tickets.update(
        await app.client(),
        who.ticket_id,
        "pick_slot",
        {"slot_id": slot_id, "actor": customer_actor(who)},
    )


# ----- staff on one ticket ------------------------------------------------------------------


@dataclass(frozen=True)
class StaffAction:
    """One update or signal staff send to a ticket. The API route, the page's form handler
    and the permission check are all made from this table (web.routes.tickets,
    web.pages_staff)."""

    perm: Perm
    is_update: bool  # an update answers with the new state; a signal is only accepted
    body: type[BaseModel]  # the contract's message without `actor` (web.schemas)
    summary: str  # for people: /docs lists it


STAFF_ACTIONS: dict[str, StaffAction] = {
    "send_invite_now": StaffAction(
        Perm.manage_tickets,
        True,
        schemas.SendInviteNowBody,
        "Send the customer's invite now instead of at 10:05 on its business day, e.g. for "
        "a customer who asks for the link (Refresh Manager)",
    ),
    "provide_location": StaffAction(
        Perm.manage_tickets,
        True,
        schemas.ProvideLocationBody,
        "Give the delivery location of a ticket waiting for it (Refresh Manager)",
    ),
    "hold": StaffAction(
        Perm.manage_tickets,
        True,
        schemas.HoldBody,
        "Put a ticket on hold: its reminders and deadlines pause (Refresh Manager)",
    ),
    "release": StaffAction(
        Perm.manage_tickets,
        True,
        schemas.ReleaseBody,
        "Release a hold: the ticket goes on where it was (Refresh Manager)",
    ),
    "reschedule": StaffAction(
        Perm.manage_tickets,
        True,
        schemas.RescheduleBody,
        "Book the appointment on a slot you choose (Refresh Manager)",
    ),
    "trigger_customer_reschedule": StaffAction(
        Perm.manage_tickets,
        False,
        schemas.TriggerRescheduleBody,
        "Ask the customer to pick a new appointment time (Refresh Manager)",
    ),
    "cancel": StaffAction(
        Perm.admin_tickets, True, schemas.CancelBody, "Cancel a ticket (Refresh Administrator)"
    ),
    "exchange_replacement": StaffAction(
        Perm.admin_tickets,
        False,
        schemas.ExchangeBody,
        "Swap the replacement computer; the ticket stays where it is (Refresh Administrator)",
    ),
    "set_tracking": StaffAction(
        Perm.admin_tickets,
        False,
        schemas.TrackingBody,
        "Record the shipment's tracking number of a remote refresh (Refresh Administrator)",
    ),
}


async def ticket_row(app: WebApp, ticket_id: str) -> Ticket:
    row = await app.read(queries.ticket_row, ticket_id)
    if row is None:
        raise not_found(f"no ticket {ticket_id}")
    return row


async def staff_action(
    app: WebApp, staff: Staff, ticket_id: str, name: str, body: dict[str, Any]
) -> Any:
    """provide_location, hold, release, reschedule, cancel (updates) and the staff signals."""
    action = STAFF_ACTIONS[name]
    if not staff.can(action.perm):
        raise forbidden()
    data = {**body, "actor": staff.username}
    client = await app.client()
    if action.is_update:
        return await tickets.update(client, ticket_id, name, data)
    await tickets.signal(client, ticket_id, name, data)
    return None


async def check_tdx_now(app: WebApp, staff: Staff, ticket_id: str) -> list[str]:
    """Staff ask deskflow to look at TDX now (see operations.tickets.check_tdx_now)."""
    if not staff.can(Perm.manage_tickets):
        raise forbidden()
    return await tickets.check_tdx_now(await app.client(), ticket_id, staff.username)


async def approver_identity(app: WebApp, staff: Staff, ticket_id: str) -> tuple[Ticket, str]:
    """The ticket, and the name (uniqname or email) under which its config lists this approver.

    A ticket of a config that does not name them is "not found": approvers cannot find
    other units' tickets by guessing ids.
    """
    row = await ticket_row(app, ticket_id)
    if not staff.approves(row.config_id):
        raise not_found(f"no ticket {ticket_id} among the tickets you approve")
    cfg = await ticket_config(app, row.config_id)
    return row, staff.username if cfg.is_approver(staff.username) else staff.email


async def approver_action(
    app: WebApp, staff: Staff, ticket_id: str, name: str, body: dict[str, Any]
) -> Any:
    _, who = await approver_identity(app, staff, ticket_id)
    return await tickets.update(await app.client(), ticket_id, name, {**body, "approver": who})


async def edit_ticket(app: WebApp, staff: Staff, ticket_id: str, body: dict[str, Any]) -> UpdateAck:
    """Edit before ordering: as Refresh Administrator, or as an approver of the ticket's config."""
    if staff.can(Perm.admin_tickets):
        actor, role = staff.username, "refresh_admin"
    else:
        _, actor = await approver_identity(app, staff, ticket_id)
        role = "approver"
    return await tickets.update(
        await app.client(), ticket_id, "edit", {**body, "actor": actor, "role": role}
    )


STUCK_SCAN_LIMIT = 200  # open tickets described() per Problems view


async def problems_data(app: WebApp) -> dict[str, Any]:
    """Problems focus: tickets waiting on a person, failed emails, stuck activities, and
    open tickets whose workflow was ended in Temporal (their rows keep their last status)."""
    problem_rows = await app.read(queries.problem_tickets)
    failed = await app.read(queries.failed_emails)
    open_ids, open_total = await app.read(queries.open_ticket_ids, STUCK_SCAN_LIMIT)
    checks = await tickets.check_open_tickets(await app.client(), open_ids)
    return {
        "tickets": problem_rows,
        "failed_emails": failed,
        "stuck": checks.stuck,
        "ended": checks.ended,
        "checked": len(open_ids),
        "open_total": open_total,
    }


async def staff_ticket(app: WebApp, ticket_id: str) -> dict[str, Any]:
    """Everything the ticket page and `GET /api/tickets/{id}` show."""
    row = await ticket_row(app, ticket_id)
    client = await app.client()
    state = await tickets.state(client, ticket_id)
    history = await app.read(queries.ticket_history, ticket_id)
    pending = await tickets.pending_activities(client, ticket_id)
    return {"row": row, "state": state, "pending": pending, **history}


# ----- bulk actions --------------------------------------------------------------------------
# operations.bulk and operations.slot_admin are the one path for these, shared with the CLI.


def _rows(results: list[Any]) -> dict[str, list]:
    rows = [r.model_dump() for r in results]
    return {
        "done": [r["ticket_id"] for r in rows if r["ok"]],
        "refused": [r for r in rows if not r["ok"]],
        "results": rows,
    }


async def assign_replacements(
    app: WebApp, staff: Staff, group: str | None, assignments: list[dict[str, Any]]
) -> dict[str, list]:
    """Order group: `assign_replacement` to each pending_ordering ticket (advances it)."""
    rows = [
        bulk.AssignmentRow(line=n, ticket_id=a["ticket_id"], replacement=a["replacement"])
        for n, a in enumerate(assignments, start=1)
    ]
    results = await bulk.assign_replacements(
        await app.client(), app.reads, rows, actor=staff.username, group=group or None
    )
    return _rows(results)


async def assign_replacements_csv(
    app: WebApp, staff: Staff, group: str | None, text: str
) -> dict[str, list]:
    """The same from an order-group CSV (ticket_id or existing_serial, replacement_serial,
    platform, model, optional tracking_number and group)."""
    try:
        results = await bulk.assign_replacements_csv(
            await app.client(), app.reads, text, actor=staff.username, group=group or None
        )
    except bulk.BulkFileError as e:
        raise FieldError(422, str(e), "csv") from None
    return _rows(results)


async def bulk_reschedule(
    app: WebApp, staff: Staff, ticket_ids: list[str], slot_id: int | None, reason: str
) -> dict[str, list]:
    """Assign one slot to many tickets (`reschedule`), or ask their customers to pick again."""
    client = await app.client()
    if slot_id is not None:
        results = await bulk.reschedule_many(
            client,
            app.reads,
            [(t, slot_id) for t in ticket_ids],
            actor=staff.username,
            reason=reason,
        )
        return _rows(results)
    done, refused = [], []
    for tid in ticket_ids:
        row = await app.read(queries.ticket_row, tid)
        if row is None or row.status not in RESCHEDULABLE:
            why = "no such ticket" if row is None else f"ticket is {row.status}"
            refused.append({"ticket_id": tid, "ok": False, "detail": why})
            continue
        data = {"actor": staff.username, "reason": reason or "rescheduled by staff"}
        try:
            await tickets.signal(client, tid, "trigger_customer_reschedule", data)
        except FieldError as e:
            refused.append({"ticket_id": tid, "ok": False, "detail": e.message})
            continue
        done.append(tid)
    return {"done": done, "refused": refused, "results": []}


async def hold_many(app: WebApp, staff: Staff, ticket_ids: list[str], reason: str) -> dict:
    results = await bulk.hold_many(
        await app.client(), app.reads, ticket_ids, actor=staff.username, reason=reason
    )
    return _rows(results)


async def release_many(app: WebApp, staff: Staff, ticket_ids: list[str]) -> dict:
    results = await bulk.release_many(
        await app.client(), app.reads, ticket_ids, actor=staff.username
    )
    return _rows(results)


# ----- slots and their preferences ----------------------------------------------------------


async def delete_slot(app: WebApp, staff: Staff, slot_id: int) -> dict[str, Any]:
    """Delete a slot; each ticket booked on it is asked to reschedule (customer emailed)."""
    try:
        result = await slot_admin.delete_slot_and_notify(
            await app.client(), app.writes, slot_id, staff.username
        )
    except slot_admin.SlotUnavailable as e:
        raise not_found(e.reason) from None
    return result.model_dump()


def _preference_error(e: slot_preferences.PreferenceError) -> FieldError:
    errors = {p.field: p.message for p in e.problems}
    return FieldError(422, str(e), next(iter(errors), None), errors)


def _preference_call(db, fn, *args):
    try:
        return fn(db, *args)
    except slot_preferences.PreferenceError as e:
        raise _preference_error(e) from None
    except (slot_preferences.UnknownTeam, slot_preferences.UnknownPreference) as e:
        raise not_found(str(e)) from None


async def list_preferences(app: WebApp, team_id: str) -> list:
    return await app.read(_preference_call, slot_preferences.list_preferences, team_id)


async def add_preference(app: WebApp, team_id: str, data: dict[str, Any]) -> Any:
    return await app.write(_preference_call, slot_preferences.add_preference, team_id, data)


async def edit_preference(app: WebApp, team_id: str, pref_id: int, data: dict[str, Any]) -> Any:
    return await app.write(
        _preference_call, slot_preferences.edit_preference, team_id, pref_id, data
    )


async def delete_preference(app: WebApp, team_id: str, pref_id: int) -> None:
    await app.write(_preference_call, slot_preferences.delete_preference, team_id, pref_id)


def _team_feed(db, team_id: str, now: datetime) -> bytes:
    try:
        return slot_feed.team_feed(db, team_id, now=now)
    except slot_feed.UnknownTeam as e:
        raise not_found(str(e)) from None


async def team_feed(app: WebApp, team_id: str) -> bytes:
    return await app.read(_team_feed, team_id, app.now())


# ----- batches -----------------------------------------------------------------------------


def preview_batch(text: str) -> tuple[list[BatchRow], list[RefusedRow]]:
    try:
        return parse_serials_csv(text)
    except BatchFileError as e:
        raise FieldError(422, str(e), "csv") from None


def check_batch_id(batch_id: str) -> None:
    if not re.fullmatch(TICKET_ID_PATTERN, batch_id or ""):
        raise FieldError(422, "use letters, digits, '.', '_' and '-' (at most 64)", "batch_id")


async def start_batch(
    app: WebApp, staff: Staff, config_id: str, batch_id: str, text: str, source: str
) -> str:
    """Record the batch and start its RefreshBatch workflow (idempotent per batch id)."""
    check_batch_id(batch_id)
    if await app.read(queries.config_row, config_id) is None:
        raise FieldError(422, f"unknown refresh config '{config_id}'", "config_id")
    rows, refused = preview_batch(text)
    if not rows and not refused:
        raise FieldError(422, "the file lists no serials", "csv")
    try:
        inp, new = await asyncio.to_thread(
            prepare_batch, app.settings, config_id, batch_id, text, source
        )
    except BatchFileError as e:
        raise FieldError(422, str(e), e.field) from None
    try:
        if new:
            await app.write(queries.claim_batch, batch_id, staff.username)
        client = await app.client()
        await client.start_workflow(
            BATCH_WORKFLOW_TYPE,
            inp,
            id=batch_workflow_id(batch_id),
            task_queue=app.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except BaseException:
        if new:  # no batch row without its workflow
            await asyncio.to_thread(discard_batch, app.settings, batch_id)
        raise
    return batch_id
