"""Bulk actions: good rows go through, bad rows are refused with their reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.refresh import Status
from operations.bulk import (
    BulkFileError,
    assign_replacements_csv,
    hold_many,
    parse_assignments,
    parse_assignments_csv,
    parse_reschedules_csv,
    release_many,
    reschedule_many,
)
from tests.schedules.helpers import add_slot, new_team, sessions_for
from tests.schedules.test_discovery import projected_status
from tests.test_cli import deskflow
from tests.workflows.helpers import settle, start, state, ticket_input, until


async def loaners(env, worker, team: str, n: int):
    """n no_customer tickets: they start in pending_ordering, no emails."""
    handles = [
        await start(env, worker, ticket_input("no_customer", "lab-loaners", team=team))
        for _ in range(n)
    ]
    for h in handles:
        await until(h, lambda s: s.setup_done, "setup")
        await projected_status(worker, h.id.removeprefix("refresh-"), Status.pending_ordering)
    return handles


def test_csv_shape_errors():
    with pytest.raises(BulkFileError, match="missing column"):
        parse_assignments_csv("ticket_id,serial\nT1,X\n")
    with pytest.raises(BulkFileError, match="ticket_id or existing_serial"):
        parse_assignments_csv("replacement_serial,platform,model\nNEW1,windows,x\n")
    with pytest.raises(BulkFileError, match="empty"):
        parse_assignments_csv("")
    rows, refused = parse_assignments(
        [
            {
                "ticket_id": "T1",
                "replacement_serial": "NEW0001",
                "platform": "windows",
                "model": "Dell Latitude 7450",
                "group": "G",
            },
            {"ticket_id": None, "replacement_serial": "NEW0002", "platform": "mac", "model": "M"},
            {
                "existing_serial": "OLD1",
                "replacement_serial": "N2",
                "platform": "mac",
                "model": "M",
            },
        ]
    )
    assert [(r.line, r.ticket_id, r.replacement.serial, r.group) for r in rows] == [
        (1, "T1", "NEW0001", "G")
    ]
    assert [(r.line, r.detail) for r in refused] == [
        (2, "give ticket_id or existing_serial"),
        (3, "malformed serial 'N2': use 4-64 letters, digits or '-'"),
    ]
    rows, refused = parse_reschedules_csv("ticket_id,slot_id\nT1,4\nT2,x\n,5\nT3,-1\n")
    assert [(r.line, r.ticket_id, r.slot_id) for r in rows] == [(2, "T1", 4)]
    assert [(r.line, r.detail.split(":")[0]) for r in refused] == [
        (3, "slot_id"),
        (4, "ticket_id is empty"),
        (5, "slot_id"),
    ]


async def test_assign_from_csv_with_bad_rows(env, worker, tmp_path):
    team = new_team(worker)
    t1, t2, t3 = await loaners(env, worker, team, 3)
    id1, id2, id3 = (h.id.removeprefix("refresh-") for h in (t1, t2, t3))
    serial2 = (await state(t2)).existing_system.serial
    csv_text = (
        "Ticket_ID,existing_serial,replacement_serial,platform,model,tracking_number,group\n"
        f"{id1},,NEWB0001,windows,Dell Latitude 7450,,\n"
        f",{serial2.lower()},NEWB0002,Mac,MacBook Air 13 M4,1Z999,LSA-G2\n"
        "nope-ticket,,NEWB0003,windows,Dell Latitude 7450,,\n"
        f"{id3},,BAD SERIAL!,windows,Dell Latitude 7450,,\n"
        f"{id3},,NEWB0004,linux,Dell Latitude 7450,,\n"
        "\n"
        f"{id1},,NEWB0005,windows,Dell Latitude 7450,,\n"
        f"{id3},,NEWB0001,windows,Dell Latitude 7450,,\n"
    )
    seen = []
    results = await assign_replacements_csv(
        env.client,
        sessions_for(worker),
        csv_text,
        actor="admin",
        group="ORDER-7",
        progress=seen.append,
    )
    assert len(seen) == len(results) == 7
    got = [(r.line, r.ticket_id, r.ok, r.detail) for r in results]
    assert got[0] == (2, id1, True, "NEWB0001 (Dell Latitude 7450) assigned")
    assert got[1] == (3, id2, True, "NEWB0002 (MacBook Air 13 M4) assigned")
    assert got[2] == (4, "nope-ticket", False, "unknown ticket nope-ticket")
    assert got[3][:3] == (5, id3, False) and got[3][3].startswith("malformed serial 'BAD SERIAL!'")
    assert got[4][:3] == (6, id3, False) and got[4][3].startswith("platform: Input should be")
    assert got[5] == (8, id1, False, f"ticket {id1} is already on line 2")
    assert got[6] == (9, id3, False, "replacement NEWB0001 is already on line 2")

    s1 = await settle(t1, Status.pending_itsm_existence)
    s2 = await settle(t2, Status.pending_itsm_existence)
    assert (s1.replacement_system.serial, s1.replacement_group) == ("NEWB0001", "ORDER-7")
    assert (s2.replacement_system.platform, s2.tracking_number) == ("mac", "1Z999")
    assert (await state(t3)).status == Status.pending_ordering

    # The same file again: nothing is pending_ordering any more, except t3's bad rows.
    await projected_status(worker, id1, Status.pending_itsm_existence)
    await projected_status(worker, id2, Status.pending_itsm_existence)
    again = await assign_replacements_csv(env.client, sessions_for(worker), csv_text, actor="admin")
    assert [r.detail for r in again[:2]] == [
        "a replacement is assigned while the ticket waits for ordering; "
        "this ticket is Waiting for the new computer to appear in TDX"
    ] * 2
    assert not any(r.ok for r in again)

    # The CLI: a progress bar, a per-row table, exit 1 because a row was refused.
    path = tmp_path / "order.csv"
    path.write_text(
        "ticket_id,replacement_serial,platform,model\n"
        f"{id3},NEWB0009,windows,Dell Latitude 7450\n"
        "nope-ticket,NEWB0010,windows,Dell Latitude 7450\n"
    )
    code, out = await deskflow(env, worker, "bulk", "assign", str(path), "--by", "admin")
    assert code == 1, out
    assert "NEWB0009 (Dell Latitude 7450) assigned" in out and "unknown ticket nope-ticket" in out
    assert "1 done, 1 refused (of 2)" in out
    await settle(t3, Status.pending_itsm_existence)


async def test_hold_release_and_reschedule_many(env, worker):
    team = new_team(worker)
    t1, t2 = await loaners(env, worker, team, 2)
    id1, id2 = (h.id.removeprefix("refresh-") for h in (t1, t2))
    sessions = sessions_for(worker)

    held = await hold_many(
        env.client, sessions, [id1, "nope", id2, id2], actor="mgr", reason="supply"
    )
    assert [(r.line, r.ok, r.detail) for r in held] == [
        (1, True, "on hold (was pending_ordering)"),
        (2, False, "unknown ticket nope"),
        (3, True, "on hold (was pending_ordering)"),
        (4, False, f"ticket {id2} is already on line 3"),
    ]
    [twice] = await hold_many(env.client, sessions, [id1], actor="mgr")
    assert not twice.ok and twice.detail == "ticket is on_hold: it cannot be put on hold"

    released = await release_many(env.client, sessions, [id1, id2], actor="mgr")
    assert [(r.ok, r.detail) for r in released] == [(True, "released to pending_ordering")] * 2

    slot = add_slot(worker, team, (await env.get_current_time()) + timedelta(days=4))
    moved = await reschedule_many(
        env.client, sessions, [(id1, slot), ("nope", slot)], actor="admin"
    )
    assert [(r.ok, r.detail) for r in moved] == [
        (
            False,
            "ticket is pending_ordering; this needs pending_slot_discovery, "
            "pending_customer_scheduling, delivery_scheduled",
        ),
        (False, "unknown ticket nope"),
    ]
