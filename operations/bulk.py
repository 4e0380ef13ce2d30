"""Bulk actions of Refresh Administrators and Managers: the web app's and the CLI's one path.

* assign replacements for an order group from CSV (`assign_replacement`: advances each
  pending_ordering ticket; seed 001 Timeline 9),
* reschedule many tickets (`reschedule` update: staff assigns each a slot),
* hold / release many tickets (`hold` / `release` updates).

Every row is checked on its own and refused with its reason (unknown ticket, malformed
serial, a validator's refusal, a full slot, ...) while the good rows go through; the result is
one `RowResult` per row, in input order, for the web page or the CLI table. Rows are sent
concurrently (bounded); `progress` is called as each row finishes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from domain.refresh import (
    TERMINAL,
    AssignReplacement,
    Hold,
    Release,
    ReplacementSystem,
    Reschedule,
    Status,
    TicketState,
    workflow_id,
)
from domain.refresh_rules import assign_refusal
from store.tables import Ticket

IN_FLIGHT = 16
SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,63}")

Progress = Callable[["RowResult"], None]


class BulkFileError(ValueError):
    """The file as a whole is unusable (not CSV, a required column missing): nothing sent."""


class RowResult(BaseModel):
    """What happened to one row: `ok` with what was done, or refused with the reason."""

    line: int = Field(description="CSV line (header is line 1), or 1-based position")
    ticket_id: str | None
    action: str
    ok: bool
    detail: str


class AssignmentRow(BaseModel):
    line: int
    ticket_id: str | None = None
    existing_serial: str | None = None
    replacement: ReplacementSystem
    group: str | None = None


class RescheduleRow(BaseModel):
    line: int
    ticket_id: str
    slot_id: int = Field(gt=0)


# ----- parsing ------------------------------------------------------------------------------


def _reader(text: str, required: Iterable[str], one_of: Iterable[str] = ()) -> csv.DictReader:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None:
        raise BulkFileError("the file is empty: expected a CSV header line")
    reader.fieldnames = [(f or "").strip().lower() for f in reader.fieldnames]
    missing = [c for c in required if c not in reader.fieldnames]
    one_of = list(one_of)
    if one_of and not any(c in reader.fieldnames for c in one_of):
        missing.append(" or ".join(one_of))
    if missing:
        raise BulkFileError(
            f"missing column(s) {', '.join(missing)}; the header has {', '.join(reader.fieldnames)}"
        )
    return reader


def _cell(row: Mapping[str, Any], name: str) -> str | None:
    value = (row.get(name) or "").strip()
    return value or None


def _pydantic_reason(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(x) for x in err['loc'])}: {err['msg'].removeprefix('Value error, ')}"
        for err in e.errors()
    )


def serial_problem(serial: str) -> str | None:
    if not SERIAL.fullmatch(serial):
        return f"malformed serial {serial!r}: use 4-64 letters, digits or '-'"
    return None


def assignment_row(line: int, raw: Mapping[str, Any]) -> AssignmentRow | RowResult:
    """One order-group row from its fields (the CSV's columns, or the same keys in JSON):
    the row, or a refused RowResult saying what is wrong with it."""
    cells = {k: v if isinstance(v, str) else ("" if v is None else str(v)) for k, v in raw.items()}
    ticket_id, existing = _cell(cells, "ticket_id"), _cell(cells, "existing_serial")

    def refuse(reason: str) -> RowResult:
        return RowResult(
            line=line, ticket_id=ticket_id, action="assign_replacement", ok=False, detail=reason
        )

    if not ticket_id and not existing:
        return refuse("give ticket_id or existing_serial")
    serial = _cell(cells, "replacement_serial") or ""
    problem = serial_problem(serial) if serial else "replacement_serial is empty"
    if problem:
        return refuse(problem)
    try:
        replacement = ReplacementSystem(
            serial=serial,
            platform=(_cell(cells, "platform") or "").lower(),  # type: ignore[arg-type]
            model=_cell(cells, "model") or "",
            tracking_number=_cell(cells, "tracking_number"),
        )
    except ValidationError as e:
        return refuse(_pydantic_reason(e))
    return AssignmentRow(
        line=line,
        ticket_id=ticket_id,
        existing_serial=existing,
        replacement=replacement,
        group=_cell(cells, "group"),
    )


def parse_assignments(
    items: Iterable[Mapping[str, Any]], first_line: int = 1
) -> tuple[list[AssignmentRow], list[RowResult]]:
    """Order-group rows from dicts (e.g. a JSON body), numbered from `first_line`."""
    rows: list[AssignmentRow] = []
    refused: list[RowResult] = []
    for line, raw in enumerate(items, start=first_line):
        row = assignment_row(line, raw)
        (rows if isinstance(row, AssignmentRow) else refused).append(row)  # type: ignore[arg-type]
    return rows, refused


def parse_assignments_csv(text: str) -> tuple[list[AssignmentRow], list[RowResult]]:
    """Rows of an order group file (ticket_id or existing_serial, replacement_serial,
    platform, model, optional tracking_number and group) and the lines refused as malformed.
    Raises BulkFileError if the file as a whole is unusable."""
    reader = _reader(
        text, ["replacement_serial", "platform", "model"], ["ticket_id", "existing_serial"]
    )
    rows: list[AssignmentRow] = []
    refused: list[RowResult] = []
    for raw in reader:
        if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
            continue
        row = assignment_row(reader.line_num, raw)
        (rows if isinstance(row, AssignmentRow) else refused).append(row)  # type: ignore[arg-type]
    return rows, refused


def parse_reschedules_csv(text: str) -> tuple[list[RescheduleRow], list[RowResult]]:
    """(ticket_id, slot_id) rows and the lines refused as malformed."""
    reader = _reader(text, ["ticket_id", "slot_id"])
    rows: list[RescheduleRow] = []
    refused: list[RowResult] = []
    for raw in reader:
        if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
            continue
        ticket_id, slot = _cell(raw, "ticket_id"), _cell(raw, "slot_id")
        reason = None
        if not ticket_id:
            reason = "ticket_id is empty"
        else:
            try:
                rows.append(RescheduleRow(line=reader.line_num, ticket_id=ticket_id, slot_id=slot))
            except ValidationError as e:
                reason = _pydantic_reason(e)
        if reason:
            refused.append(
                RowResult(
                    line=reader.line_num,
                    ticket_id=ticket_id,
                    action="reschedule",
                    ok=False,
                    detail=reason,
                )
            )
    return rows, refused


def parse_ticket_ids_csv(text: str) -> list[str]:
    """The ticket_id column of a CSV, or one id per line when there is no such header."""
    first = text.lstrip("\ufeff").splitlines()[:1]
    if first and "ticket_id" in [c.strip().lower() for c in first[0].split(",")]:
        return [t for r in _reader(text, ["ticket_id"]) if (t := _cell(r, "ticket_id"))]
    return [line.strip() for line in text.splitlines() if line.strip()]


# ----- looking tickets up in the projection -----------------------------------------------


def _load(sessions: sessionmaker[Session], ids: set[str], serials: set[str]):
    with sessions() as db:
        by_id = (
            {t.ticket_id: t for t in db.scalars(select(Ticket).where(Ticket.ticket_id.in_(ids)))}
            if ids
            else {}
        )
        by_serial: dict[str, list[Ticket]] = {}
        if serials:
            for t in db.scalars(
                select(Ticket).where(func.upper(Ticket.existing_serial).in_(serials))
            ):
                by_serial.setdefault(t.existing_serial.upper(), []).append(t)
        for t in [*by_id.values(), *(x for v in by_serial.values() for x in v)]:
            db.expunge(t)
        return by_id, by_serial


def _replacement_owners(sessions: sessionmaker[Session], serials: set[str]) -> dict[str, str]:
    if not serials:
        return {}
    with sessions() as db:
        return {
            serial.upper(): ticket_id
            for ticket_id, serial in db.execute(
                select(Ticket.ticket_id, Ticket.replacement_serial).where(
                    func.upper(Ticket.replacement_serial).in_(serials),
                    Ticket.status.not_in([s.value for s in TERMINAL]),
                )
            )
        }


def _pick_by_serial(serial: str, found: list[Ticket]) -> tuple[Ticket | None, str | None]:
    open_ = [t for t in found if t.status not in {s.value for s in TERMINAL}]
    if not open_:
        return None, f"no open ticket for existing serial {serial}"
    ordering = [t for t in open_ if t.status == Status.pending_ordering.value]
    if len(open_) == 1 or len(ordering) == 1:
        return (ordering or open_)[0], None
    names = ", ".join(sorted(t.ticket_id for t in open_))
    return None, f"existing serial {serial} matches tickets {names}: give ticket_id"


# ----- sending ------------------------------------------------------------------------------


def _rpc_reason(ticket_id: str, e: RPCError) -> str:
    if e.status == RPCStatusCode.NOT_FOUND:
        return f"ticket {ticket_id} has no running workflow"
    return e.message


def _update_reason(e: WorkflowUpdateFailedError) -> str:
    cause = e.cause
    return str(getattr(cause, "message", None) or cause or e)


async def _run_rows(
    jobs: Sequence[tuple[int, Callable[[], Awaitable[RowResult]]]],
    refused: Sequence[RowResult],
    progress: Progress | None,
) -> list[RowResult]:
    """Report the refused rows, run the jobs (bounded), return all results in line order."""
    results: list[RowResult] = []
    for r in refused:
        results.append(r)
        if progress:
            progress(r)
    limit = asyncio.Semaphore(IN_FLIGHT)

    async def run(job: Callable[[], Awaitable[RowResult]]) -> None:
        async with limit:
            r = await job()
        results.append(r)
        if progress:
            progress(r)

    await asyncio.gather(*(run(job) for _, job in jobs))
    return sorted(results, key=lambda r: r.line)


async def assign_replacements(
    client: Client,
    sessions: sessionmaker[Session],
    rows: Sequence[AssignmentRow],
    *,
    actor: str,
    group: str | None = None,
    refused: Sequence[RowResult] = (),
    progress: Progress | None = None,
) -> list[RowResult]:
    """Signal `assign_replacement` for each row whose ticket is pending_ordering.

    Refused: unknown ticket or serial, ambiguous serial, a ticket not in pending_ordering (the
    workflow would ignore the signal), a bump-down ticket (already has its system), a
    replacement serial given twice in the file or already another open ticket's replacement.
    `group` is the order group, used for rows without their own `group`.
    """
    act = "assign_replacement"
    ids = {r.ticket_id for r in rows if r.ticket_id}
    serials = {r.existing_serial.upper() for r in rows if r.existing_serial and not r.ticket_id}
    by_id, by_serial = await asyncio.to_thread(_load, sessions, ids, serials)
    owners = await asyncio.to_thread(
        _replacement_owners, sessions, {r.replacement.serial.upper() for r in rows}
    )
    refused = list(refused)
    jobs = []
    seen_tickets: dict[str, int] = {}
    seen_serials: dict[str, int] = {}

    for row in rows:

        def refuse(reason: str, row: AssignmentRow = row, tid: str | None = None) -> None:
            refused.append(
                RowResult(
                    line=row.line,
                    ticket_id=tid or row.ticket_id,
                    action=act,
                    ok=False,
                    detail=reason,
                )
            )

        if row.ticket_id:
            ticket = by_id.get(row.ticket_id)
            if ticket is None:
                refuse(f"unknown ticket {row.ticket_id}")
                continue
        else:
            assert row.existing_serial
            ticket, why = _pick_by_serial(
                row.existing_serial, by_serial.get(row.existing_serial.upper(), [])
            )
            if ticket is None:
                refuse(why or "no ticket")
                continue
        tid = ticket.ticket_id
        serial = row.replacement.serial.upper()
        if tid in seen_tickets:
            refuse(f"ticket {tid} is already on line {seen_tickets[tid]}", tid=tid)
            continue
        if serial in seen_serials:
            refuse(
                f"replacement {row.replacement.serial} is already on line {seen_serials[serial]}",
                tid=tid,
            )
            continue
        if owners.get(serial, tid) != tid:
            refuse(
                f"{row.replacement.serial} is already the replacement of ticket {owners[serial]}",
                tid=tid,
            )
            continue
        refusal = assign_refusal(
            Status(ticket.status),
            bool((ticket.state or {}).get("bump_down")),
            bool(ticket.replacement_serial),
        )
        if refusal:
            refuse(refusal, tid=tid)
            continue
        seen_tickets[tid], seen_serials[serial] = row.line, row.line
        msg = AssignReplacement(replacement=row.replacement, group=row.group or group, actor=actor)

        async def send(row: AssignmentRow = row, tid: str = tid, msg=msg) -> RowResult:
            try:
                await client.get_workflow_handle(workflow_id(tid)).signal(act, msg)
            except RPCError as e:
                return RowResult(
                    line=row.line, ticket_id=tid, action=act, ok=False, detail=_rpc_reason(tid, e)
                )
            return RowResult(
                line=row.line,
                ticket_id=tid,
                action=act,
                ok=True,
                detail=f"{msg.replacement.serial} ({msg.replacement.model}) assigned",
            )

        jobs.append((row.line, send))
    return await _run_rows(jobs, refused, progress)


async def assign_replacements_csv(
    client: Client,
    sessions: sessionmaker[Session],
    text: str,
    *,
    actor: str,
    group: str | None = None,
    progress: Progress | None = None,
) -> list[RowResult]:
    """`parse_assignments_csv` then `assign_replacements`. Raises BulkFileError."""
    rows, refused = parse_assignments_csv(text)
    return await assign_replacements(
        client, sessions, rows, actor=actor, group=group, refused=refused, progress=progress
    )


async def _updates(
    client: Client,
    sessions: sessionmaker[Session],
    items: Sequence[tuple[int, str, str, BaseModel, Callable[[TicketState], str]]],
    refused: Sequence[RowResult],
    progress: Progress | None,
) -> list[RowResult]:
    """Send one validated update per item (line, ticket_id, update name, message, describe)."""
    by_id, _ = await asyncio.to_thread(_load, sessions, {i[1] for i in items}, set())
    refused = list(refused)
    jobs = []
    seen: dict[str, int] = {}
    for line, tid, name, msg, describe in items:
        if tid not in by_id:
            refused.append(
                RowResult(
                    line=line, ticket_id=tid, action=name, ok=False, detail=f"unknown ticket {tid}"
                )
            )
            continue
        if tid in seen:
            refused.append(
                RowResult(
                    line=line,
                    ticket_id=tid,
                    action=name,
                    ok=False,
                    detail=f"ticket {tid} is already on line {seen[tid]}",
                )
            )
            continue
        seen[tid] = line

        async def send(line=line, tid=tid, name=name, msg=msg, describe=describe) -> RowResult:
            handle = client.get_workflow_handle(workflow_id(tid))
            try:
                await handle.execute_update(name, msg)
                # An update answers an acknowledgement; the row's detail reads the ticket.
                state = await handle.query("state", result_type=TicketState)
            except WorkflowUpdateFailedError as e:
                return RowResult(
                    line=line, ticket_id=tid, action=name, ok=False, detail=_update_reason(e)
                )
            except RPCError as e:
                return RowResult(
                    line=line, ticket_id=tid, action=name, ok=False, detail=_rpc_reason(tid, e)
                )
            return RowResult(line=line, ticket_id=tid, action=name, ok=True, detail=describe(state))

        jobs.append((line, send))
    return await _run_rows(jobs, refused, progress)


def _day1(state: TicketState) -> str:
    if state.slot is None:
        return "rescheduled"
    return f"slot {state.slot.slot_id} at {state.slot.start.isoformat()}"


async def reschedule_many(
    client: Client,
    sessions: sessionmaker[Session],
    items: Sequence[RescheduleRow | tuple[str, int]],
    *,
    actor: str,
    reason: str = "",
    refused: Sequence[RowResult] = (),
    progress: Progress | None = None,
) -> list[RowResult]:
    """Staff assigns each ticket its slot (`reschedule` update). Refused with the validator's
    or the booking's reason ("ticket is pending_wizard; ...", "slot 12 is full")."""
    rows = [
        i if isinstance(i, RescheduleRow) else RescheduleRow(line=n, ticket_id=i[0], slot_id=i[1])
        for n, i in enumerate(items, start=1)
    ]
    return await _updates(
        client,
        sessions,
        [
            (
                r.line,
                r.ticket_id,
                "reschedule",
                Reschedule(slot_id=r.slot_id, actor=actor, reason=reason),
                _day1,
            )
            for r in rows
        ],
        refused,
        progress,
    )


async def hold_many(
    client: Client,
    sessions: sessionmaker[Session],
    ticket_ids: Sequence[str],
    *,
    actor: str,
    reason: str = "",
    progress: Progress | None = None,
) -> list[RowResult]:
    """Put each ticket on hold (`hold` update; its timers pause)."""
    msg = Hold(actor=actor, reason=reason)
    return await _updates(
        client,
        sessions,
        [
            (n, t, "hold", msg, lambda s: f"on hold (was {s.held_from})")
            for n, t in enumerate(ticket_ids, 1)
        ],
        (),
        progress,
    )


async def release_many(
    client: Client,
    sessions: sessionmaker[Session],
    ticket_ids: Sequence[str],
    *,
    actor: str,
    progress: Progress | None = None,
) -> list[RowResult]:
    """Release each held ticket (`release` update) back to the status it was held in."""
    msg = Release(actor=actor)
    return await _updates(
        client,
        sessions,
        [
            (n, t, "release", msg, lambda s: f"released to {s.status.value}")
            for n, t in enumerate(ticket_ids, 1)
        ],
        (),
        progress,
    )
