"""A ticket's projected row keeps the newest revision and each audit once, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from store.db import session_scope
from store.tables import Audit, Ticket
from store.ticket_rows import add_audits, upsert_tickets

AT = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _row(status: str, revision: int | None) -> dict:
    state = {"status": status} | ({} if revision is None else {"revision": revision})
    return {
        "ticket_id": "t1",
        "created_at": AT,
        "config_id": "cfg",
        "style": "on_prem",
        "status": status,
        "support_team": "nit-central",
        "user_uniqname": "jdoe",
        "user_email": "jdoe@example.edu",
        "user_name": "Jane Doe",
        "existing_serial": "S1",
        "state": state,
        "updated_at": AT,
    }


def _write(engine: Engine, status: str, revision: int) -> None:
    with session_scope(engine) as session:
        upsert_tickets(session, [_row(status, revision)])


def _status(engine: Engine) -> tuple[str, int | None]:
    with session_scope(engine) as session:
        row = session.get(Ticket, "t1")
        assert row is not None
        return row.status, row.state.get("revision")


def test_a_late_older_write_never_replaces_a_newer_row(engine: Engine) -> None:
    _write(engine, "pending_wizard", 1)
    _write(engine, "pending_approval", 3)
    assert _status(engine) == ("pending_approval", 3)
    _write(engine, "pending_wizard", 2)  # a timed-out attempt landing late
    assert _status(engine) == ("pending_approval", 3)
    _write(engine, "pending_approval", 3)  # its retry
    _write(engine, "pending_ordering", 4)
    assert _status(engine) == ("pending_ordering", 4)


def test_runs_from_before_revisions_always_write(engine: Engine) -> None:
    with session_scope(engine) as session:
        upsert_tickets(session, [_row("pending_wizard", None)])
    _write(engine, "pending_approval", 0)
    assert _status(engine) == ("pending_approval", 0)
    _write(engine, "pending_ordering", 1)  # the next run, with revisions
    assert _status(engine) == ("pending_ordering", 1)


def test_audits_are_written_once_however_often_they_are_sent(engine: Engine) -> None:
    def audit(seq: int) -> dict:
        return {
            "ticket_id": "t1",
            "seq": seq,
            "at": AT + timedelta(minutes=seq),
            "actor": "system",
            "action": "status",
            "detail": {"text": f"step {seq}"},
        }

    for batch in ([audit(1), audit(2)], [audit(2), audit(3)], [audit(1), audit(2), audit(3)]):
        with session_scope(engine) as session:
            add_audits(session, batch)
    with session_scope(engine) as session:
        rows = session.execute(select(Audit.seq, Audit.detail).order_by(Audit.seq)).all()
    assert [(seq, detail["text"]) for seq, detail in rows] == [
        (1, "step 1"),
        (2, "step 2"),
        (3, "step 3"),
    ]
