"""Projections of many tickets share transactions, and each still lands as its ticket is."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, func, select

from activities.ticket_projection import Projection, ProjectionWriter, projection_row
from domain.refresh import AuditEntry, BookedSlot, Status, TicketState
from store.db import session_factory, session_scope
from store.tables import Audit, Ticket

AT = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)


def state(n: int, revision: int = 1, status: Status = Status.pending_wizard) -> dict:
    s = TicketState(
        ticket_id=f"t{n}",
        config_id="cfg",
        style="on_prem",
        bump_down=False,
        status=status,
        support_team="nit-central",
        user={"uniqname": f"u{n}", "name": f"User {n}", "email": f"u{n}@example.edu"},
        delegate={"name": "Del Egate", "email": "del@example.edu"},
        existing_system={"serial": f"S{n}", "platform": "windows", "model": "M"},
        replacement_system={"serial": f"R{n}", "platform": "windows", "model": "M2"},
        slot=BookedSlot(slot_id=7, start=AT, end=AT + timedelta(hours=1), location="Depot"),
        tdx={"ticket_id": 1000 + n},
        created_at=AT,
        revision=revision,
        audits=[AuditEntry(seq=1, at=AT, actor="system", action="created")],
    )
    return s.model_dump(mode="json")  # as the workflow sends it


def test_the_row_is_read_from_the_state_as_the_workflow_serializes_it() -> None:
    row = projection_row(state(1), AT)
    assert row | {"state": None} == {
        "ticket_id": "t1",
        "created_at": AT,
        "config_id": "cfg",
        "batch_id": None,
        "style": "on_prem",
        "status": "pending_wizard",
        "support_team": "nit-central",
        "user_uniqname": "u1",
        "user_email": "u1@example.edu",
        "user_name": "User 1",
        "delegate_email": "del@example.edu",
        "existing_serial": "S1",
        "replacement_serial": "R1",
        "tdx_ticket_id": 1001,
        "day1": AT,
        "slot_id": 7,
        "state": None,
        "updated_at": AT,
    }
    assert "audits" not in row["state"]
    assert TicketState.model_validate(row["state"]).slot.start == AT  # the pages read it back


async def test_many_writes_at_once_share_transactions_and_one_bad_write_fails_alone(
    engine: Engine,
) -> None:
    commits = []
    event.listen(engine, "commit", lambda conn: commits.append(1))
    writer = ProjectionWriter(session_factory(engine))
    await asyncio.gather(*(writer.write(Projection(state=state(n), run_id="r")) for n in range(60)))
    assert len(commits) <= 2  # 60 tickets, one transaction (two if the first ran alone)

    bad = state(99)
    del bad["user"]
    more = [Projection(state=state(n), run_id="r") for n in range(60, 70)]
    results = await asyncio.gather(
        *(writer.write(p) for p in [*more[:5], Projection(state=bad, run_id="r"), *more[5:]]),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results if r is not None] == ["KeyError"]
    with session_scope(engine) as db:
        assert db.scalar(select(func.count()).select_from(Ticket)) == 70
        assert db.scalar(select(func.count()).select_from(Audit)) == 70

    # Later, an older revision arriving late changes nothing; a newer one wins.
    await asyncio.gather(
        writer.write(Projection(state=state(5, revision=3, status=Status.on_hold), run_id="r")),
        writer.write(Projection(state=state(6, revision=3, status=Status.on_hold), run_id="r")),
    )
    await writer.write(Projection(state=state(5, revision=2), run_id="r"))
    with session_scope(engine) as db:
        assert db.get(Ticket, "t5").status == "on_hold"
        assert db.get(Ticket, "t6").status == "on_hold"
        assert db.get(Ticket, "t7").status == "pending_wizard"


@pytest.mark.parametrize("writes", [1, 150])
async def test_a_write_is_acknowledged_only_once_its_row_is_committed(
    engine: Engine, writes: int
) -> None:
    writer = ProjectionWriter(session_factory(engine))
    read = session_factory(engine)

    async def write_then_read(n: int) -> bool:
        await writer.write(Projection(state=state(n), run_id="run"))
        with read() as db:  # another connection: sees committed rows only
            return db.get(Ticket, f"t{n}") is not None

    assert all(await asyncio.gather(*(write_then_read(n) for n in range(writes))))


def test_a_batch_is_three_statements_and_keeps_each_tickets_newest_revision(
    engine: Engine,
) -> None:
    from activities.ticket_projection import write_projections

    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    older, newer = state(1, revision=2), state(1, revision=3, status=Status.on_hold)
    newer["audits"].append(
        AuditEntry(seq=2, at=AT, actor="tech", action="hold").model_dump(mode="json")
    )
    batch = [Projection(state=s, run_id="r") for s in (newer, older, *map(state, range(2, 40)))]
    with session_scope(engine) as db:
        write_projections(db, batch)
    written = [s for s in statements if not s.startswith("BEGIN")]  # SQLite's own BEGIN
    assert len(written) == 3  # rows, config versions, audits: not three per ticket
    with session_scope(engine) as db:
        assert db.get(Ticket, "t1").status == "on_hold"  # revision 3, though sent first
        assert db.scalar(select(func.count()).select_from(Ticket)) == 39
        assert db.scalar(select(func.count()).select_from(Audit)) == 40
