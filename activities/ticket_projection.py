"""The refresh ticket's projection: its row and new audits, many tickets per transaction.

Every change of every ticket comes through `project_ticket`, and a hundred customers
confirming at once means a hundred writes within a second. Written one transaction each,
they queued on SQLite's write lock (BEGIN IMMEDIATE) and each paid its own commit; here the
writes that arrive while one transaction is being written wait for the next, which takes
them all (group commit). A write is acknowledged only once its transaction has committed,
so the local activity still completes only when its row is in the database.

The state arrives as the JSON the workflow sent (a dict), not as a `TicketState`: the row
needs a dozen of its fields and the rest is stored as it came, so validating the whole model
only to dump it again was most of the write's CPU.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from store.config_history import loaded_versions
from store.ticket_rows import add_audits, upsert_tickets

# More than this many writes wait for the next transaction: one batch stays short.
MAX_BATCH = 200


def _instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def projection_row(state: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The ticket's row from its state as JSON (`TicketState`'s own serialization)."""
    delegate = state.get("delegate")
    replacement = state.get("replacement_system")
    slot = state.get("slot")
    return {
        "ticket_id": state["ticket_id"],
        "created_at": _instant(state["created_at"]),
        "config_id": state["config_id"],
        "batch_id": state.get("batch_id"),
        "style": state["style"],
        "status": state["status"],
        "support_team": state["support_team"],
        "user_uniqname": state["user"]["uniqname"],
        "user_email": state["user"]["email"],
        "user_name": state["user"]["name"],
        "delegate_email": delegate["email"] if delegate else None,
        "existing_serial": state["existing_system"]["serial"],
        "replacement_serial": replacement["serial"] if replacement else None,
        "tdx_ticket_id": (state.get("tdx") or {}).get("ticket_id"),
        "day1": _instant(state.get("day1")),
        "slot_id": (slot or {}).get("slot_id") or None,
        # The audits are rows of their own (and the request carries only the new ones).
        "state": {k: v for k, v in state.items() if k != "audits"},
        "updated_at": now,
    }


@dataclass(frozen=True)
class Projection:
    state: Mapping[str, Any]
    run_id: str


def write_projections(db: Session, projections: Sequence[Projection]) -> None:
    """Upsert the rows (each unless the table holds a newer revision) and add the new
    audits: three statements for the whole batch, whatever its size."""
    now = datetime.now(UTC)
    newest: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for p in projections:  # a ticket written twice in the batch: its newest revision
        revision = int(p.state.get("revision") or 0)
        kept = newest.get(p.state["ticket_id"])
        if kept is None or revision == 0 or revision >= kept[0]:
            newest[p.state["ticket_id"]] = (revision, p.state)
    upsert_tickets(db, [projection_row(s, now) for _, s in newest.values()])
    with_audits = [p for p in projections if p.state.get("audits")]
    versions = loaded_versions(db, {(p.state["ticket_id"], p.run_id) for p in with_audits})
    audits: dict[tuple[str, int], dict[str, Any]] = {}
    for p in with_audits:
        ticket_id = p.state["ticket_id"]
        version = versions.get((ticket_id, p.run_id))
        under = {} if version is None else {"config_version": version}
        for a in p.state["audits"]:
            audits.setdefault(
                (ticket_id, a["seq"]),
                {
                    "ticket_id": ticket_id,
                    "seq": a["seq"],
                    "at": _instant(a["at"]),
                    "actor": a["actor"],
                    "action": a["action"],
                    "from_status": a.get("from_status"),
                    "to_status": a.get("to_status"),
                    "detail": {"text": a.get("detail", ""), **under},
                },
            )
    add_audits(db, list(audits.values()))


class ProjectionWriter:
    """Group commit of projections: one writer at a time takes every write waiting."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._waiting: list[tuple[Projection, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, projection: Projection) -> None:
        """Return once `projection` is committed; raise what its write raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((projection, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        await asyncio.shield(done)

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                await asyncio.to_thread(self._commit, [p for p, _ in batch])
            except Exception:  # noqa: BLE001 - one bad write must not fail the others
                for p, done in batch:
                    await self._write_alone(p, done)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _write_alone(self, projection: Projection, done: asyncio.Future[None]) -> None:
        try:
            await asyncio.to_thread(self._commit, [projection])
        except Exception as e:  # noqa: BLE001 - handed to the activity that asked
            if not done.done():
                done.set_exception(e)
        else:
            if not done.done():
                done.set_result(None)

    def _commit(self, projections: Sequence[Projection]) -> None:
        with self.sessions.begin() as db:
            write_projections(db, projections)
