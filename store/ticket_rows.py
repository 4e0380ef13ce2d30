"""A ticket's projected row and audits, written as two statements without reading first.

Every change of every ticket lands here (`project_ticket`), so the write is kept to what
the database must do: one INSERT … ON CONFLICT DO UPDATE of the row, guarded by the
revision it holds, and one INSERT … ON CONFLICT DO NOTHING of the new audits. No row is
loaded into the session (its `state` JSON is not parsed) and no audit is read back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.orm import Session

from store.db import dialect_insert
from store.tables import Audit, Ticket

# Set once, when the row is first written.
_KEEP_ON_UPDATE = {"ticket_id", "created_at"}


def upsert_ticket(session: Session, values: Mapping[str, Any], revision: int) -> None:
    """Write the row unless it holds a newer revision (0: a run from before revisions,
    which always writes)."""
    insert = dialect_insert(session)
    statement = insert(Ticket).values(**values)
    newer = or_(
        Ticket.state.is_(None),
        func.coalesce(Ticket.state["revision"].as_integer(), 0) < revision,
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Ticket.ticket_id],
        set_={k: statement.excluded[k] for k in values if k not in _KEEP_ON_UPDATE},
        where=None if revision == 0 else newer,
    )
    session.execute(statement)


def add_audits(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the audits the table does not have yet (a retry finds them: no duplicate)."""
    if rows:
        insert = dialect_insert(session)
        session.execute(
            insert(Audit)
            .values(list(rows))
            .on_conflict_do_nothing(index_elements=[Audit.ticket_id, Audit.seq])
        )
