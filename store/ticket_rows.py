"""Tickets' projected rows and audits, written as two statements without reading first.

Every change of every ticket lands here (`project_ticket`), many tickets at a time, so the
write is kept to what the database must do: one INSERT … ON CONFLICT DO UPDATE of the rows,
each guarded by the revision its ticket holds, and one INSERT … ON CONFLICT DO NOTHING of the
new audits. No row is loaded into the session (its `state` JSON is not parsed) and no audit
is read back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.orm import Session

from store.db import dialect_insert
from store.tables import Audit, Ticket

AUDITS_PER_STATEMENT = 500
# Set once, when the row is first written.
_KEEP_ON_UPDATE = {"ticket_id", "created_at"}


def upsert_tickets(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write each row unless the table holds a newer revision of its ticket, in one
    statement. A row whose state has no revision (a run from before revisions: 0) always
    writes. At most one row per ticket (a statement may not update a row twice); every row
    has the same columns."""
    if not rows:
        return
    insert = dialect_insert(session)
    statement = insert(Ticket).values(list(rows))
    sent = func.coalesce(statement.excluded.state["revision"].as_integer(), 0)
    held = func.coalesce(Ticket.state["revision"].as_integer(), 0)
    statement = statement.on_conflict_do_update(
        index_elements=[Ticket.ticket_id],
        set_={k: statement.excluded[k] for k in rows[0] if k not in _KEEP_ON_UPDATE},
        where=or_(sent == 0, Ticket.state.is_(None), held < sent),
    )
    session.execute(statement)


def add_audits(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the audits the table does not have yet (a retry finds them: no duplicate),
    a few hundred per statement (SQLite allows 32,766 parameters in one)."""
    insert = dialect_insert(session)
    for start in range(0, len(rows), AUDITS_PER_STATEMENT):
        session.execute(
            insert(Audit)
            .values(list(rows[start : start + AUDITS_PER_STATEMENT]))
            .on_conflict_do_nothing(index_elements=[Audit.ticket_id, Audit.seq])
        )
