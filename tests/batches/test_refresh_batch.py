"""RefreshBatch: TDX look-ups, a ticket per system, refusals with reasons, no double starts."""

from __future__ import annotations

import asyncio

import pytest

from domain.refresh import BatchProgress, RefreshBatchInput, Status, TicketState, workflow_id
from operations.batches import BatchFileError, batch_input, parse_serials_csv
from tests.workflows.helpers import save_history

CSV = """serial,style,delegate_name,delegate_email
AAA111,,,
BBB222,remote,Boss Assistant,assistant@example.edu
NOOWNER1,,,
UNKNOWN9,,,
bad serial!,,,
AAA111,,,
CCC333,,,
"""


def seed_tdx(sim) -> None:
    sim.tdx.add_person("jdoe", UID="uid-jdoe", FullName="Jane Doe", PrimaryEmail="jdoe@example.edu")
    sim.tdx.add_person("rroe", UID="uid-rroe", FullName="Rick Roe", PrimaryEmail="rroe@example.edu")
    common = {"SupportingDepartmentName": "nit-central", "LocationName": "Angell Hall"}
    sim.tdx.add_asset("AAA111", OwningCustomerID="uid-jdoe", LocationRoomName="2001", **common)
    sim.tdx.add_asset(
        "BBB222",
        OwningCustomerID="uid-rroe",
        ManufacturerName="Apple",
        ProductModelName="MacBook Air",
        **common,
    )
    sim.tdx.add_asset("NOOWNER1", **common)
    sim.tdx.add_asset("CCC333", OwningCustomerID="uid-jdoe", SupportingDepartmentName="nit-nowhere")


def test_csv_rows_are_checked_one_by_one():
    rows, refused = parse_serials_csv(CSV)
    assert [r.serial for r in rows] == ["AAA111", "BBB222", "NOOWNER1", "UNKNOWN9", "CCC333"]
    assert rows[1].style == "remote" and rows[1].delegate.email == "assistant@example.edu"
    reasons = {(r.line, r.reason.split(":")[0]) for r in refused}
    assert reasons == {(6, "malformed row"), (7, "duplicate serial in file")}
    with pytest.raises(BatchFileError, match="'serial' column"):
        parse_serials_csv("name\nfoo\n")


def test_unknown_config_is_refused_before_anything_starts(settings):
    with pytest.raises(BatchFileError, match="unknown refresh config 'nope'"):
        batch_input(settings, "nope", "b-nope", CSV, "x.csv")


async def run_batch(env, worker, inp: RefreshBatchInput, run: int) -> BatchProgress:
    handle = await env.client.start_workflow(
        "RefreshBatch", inp, id=f"batch-{inp.batch_id}-{run}", task_queue=worker.task_queue
    )
    result = BatchProgress.model_validate(await handle.result())
    if run == 1:
        await save_history(handle, "batch_complete")
    return result


async def test_batch_starts_one_ticket_per_system_and_reruns_start_nothing(env, worker, sim):
    seed_tdx(sim)
    inp = batch_input(worker, "lsa-onprem", "b-test", CSV, "serials.csv")
    first = await run_batch(env, worker, inp, 1)
    assert first.done and first.total == 7 and first.processed == 7
    assert sorted(first.started) == ["lsa-onprem.AAA111", "lsa-onprem.BBB222"]
    refused = {r.serial: r.reason for r in first.refused}
    assert refused["NOOWNER1"] == "no owner in TDX"
    assert refused["UNKNOWN9"].startswith("unknown serial")
    assert refused["CCC333"] == "unknown support team 'nit-nowhere'"
    assert set(refused) == {"NOOWNER1", "UNKNOWN9", "CCC333", "bad serial!", "AAA111"}

    remote = env.client.get_workflow_handle(workflow_id("lsa-onprem.BBB222"))
    s = await remote.query("state", result_type=TicketState)
    assert s.style == "remote" and s.user.email == "rroe@example.edu"
    assert s.delegate.email == "assistant@example.edu" and s.existing_system.platform == "mac"
    assert s.batch_id == "b-test"

    again = batch_input(worker, "lsa-onprem", "b-test", CSV, "serials.csv")
    second = await run_batch(env, worker, again, 2)
    assert second.started == []
    assert sorted(second.already_running) == ["lsa-onprem.AAA111", "lsa-onprem.BBB222"]

    await asyncio.sleep(0.5)
    creates = [c for c in sim.tdx.calls if c.method == "POST" and c.route.endswith("/tickets")]
    assert len(creates) == 2
    onprem = env.client.get_workflow_handle(workflow_id("lsa-onprem.AAA111"))
    s = await onprem.query("state", result_type=TicketState)
    # Set up before its start returned (the batch's pace): the time-skipping server may have
    # moved on to the invite while the second run looked its serials up.
    assert s.setup_done and s.status in (Status.pending_invite, Status.pending_wizard)
    assert s.existing_system.location == "Angell Hall, 2001"
