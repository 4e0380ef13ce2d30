"""assign_replacement (bulk / order group) advances; exchange_replacement (single-ticket edit)
only swaps the system; a bump-down ticket brings its own and advances by itself."""

from __future__ import annotations

from datetime import timedelta

from domain import search_attributes as sa
from domain.refresh import Status
from tests.workflows.helpers import (
    local,
    move_clock_to,
    replacement,
    settle,
    start,
    state,
    ticket_input,
    until,
)


async def test_exchange_never_advances_but_assign_does(env, worker, sim):
    await move_clock_to(env, local(2027, 8, 2, 9, 0))
    inp = ticket_input("no_customer", "lab-loaners")
    handle = await start(env, worker, inp)
    s = await until(handle, lambda s: s.setup_done, "setup")
    s = await settle(handle, Status.pending_ordering)
    prestage = s.tdx.tasks["prestage"]
    sim.tdx.add_asset("SWAP0001")
    sim.tdx.add_asset("BULK0001")

    await handle.signal(
        "exchange_replacement",
        {"replacement": replacement("SWAP0001"), "actor": "admin", "reason": "DOA"},
    )
    await until(handle, lambda s: s.replacement_system is not None, "exchange recorded")
    await env.sleep(timedelta(days=2))
    s = await settle(handle, Status.pending_ordering)
    assert s.replacement_system.serial == "SWAP0001"
    [audit] = [a for a in s.audits if a.action == "replacement exchanged"]
    assert (audit.actor, audit.detail) == ("admin", "none -> SWAP0001")
    assert [a.to_status for a in s.audits if a.action == "status"] == []
    # Not prestaged either: that belongs to ordering.
    assert sim.tdx.tasks[prestage]["PercentComplete"] == 0
    desc = await handle.describe()
    assert desc.typed_search_attributes.get(sa.REPLACEMENT_SERIAL) == "SWAP0001"

    # The order group's bulk assignment advances it, with the assigned system.
    await handle.signal(
        "assign_replacement", {"replacement": replacement("BULK0001"), "group": "LAB-2027"}
    )
    s = await settle(handle, Status.delivery_scheduled)
    assert s.replacement_system.serial == "BULK0001" and s.replacement_group == "LAB-2027"
    assert sim.tdx.tasks[prestage]["PercentComplete"] == 100
    assert "LAB-2027" in sim.tdx.task_feed[prestage][-1]["Body"]
    assert [a.to_status for a in s.audits if a.action == "status"] == [
        "pending_itsm_existence",
        "delivery_scheduled",
    ]

    # From here on, an exchange swaps the system and leaves the status alone.
    await handle.signal(
        "exchange_replacement", {"replacement": replacement("SWAP0002"), "actor": "admin"}
    )
    s = await until(handle, lambda s: s.replacement_system.serial == "SWAP0002", "exchange")
    assert s.status == Status.delivery_scheduled


async def test_bump_down_ticket_advances_from_pending_ordering_without_a_signal(env, worker, sim):
    await move_clock_to(env, local(2027, 8, 2, 9, 0))
    legacy = replacement("LEGACY01", model="Dell Latitude 5420")
    inp = ticket_input("no_customer", "lab-loaners", replacement=legacy)
    assert inp.bump_down
    handle = await start(env, worker, inp)
    s = await settle(handle, Status.pending_itsm_existence)
    assert s.replacement_system.serial == "LEGACY01"
    assert [a.to_status for a in s.audits if a.action == "status"] == ["pending_itsm_existence"]
    # The order group cannot replace a bump-down's own system.
    await handle.signal("assign_replacement", {"replacement": replacement("BULK0002")})
    s = await until(handle, lambda s: s.audits[-1].action.startswith("ignored"), "ignored")
    assert s.replacement_system.serial == "LEGACY01"

    # Recycled devices may take a while to appear in TDX: it waits, then goes on.
    await env.sleep(timedelta(hours=3))
    assert (await state(handle)).status == Status.pending_itsm_existence
    sim.tdx.add_asset("LEGACY01")
    await env.sleep(timedelta(hours=1, minutes=1))
    await settle(handle, Status.delivery_scheduled)
