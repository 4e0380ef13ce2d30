"""LookupSystem: a staff form's live TDX look-up, through the paced asset-search queue."""

from __future__ import annotations

from uuid import uuid4

import pytest
from temporalio.client import WorkflowFailureError

from domain.refresh import SYSTEM_LOOKUP_WORKFLOW_TYPE, SystemLookup
from tests.workflows.helpers import save_history


async def test_lookup_answers_the_owner_and_refuses_an_unknown_serial_at_once(env, worker, sim):
    sim.tdx.add_person("kim", UID="uid-kim", FullName="Kim Owner", PrimaryEmail="kim@x.edu")
    sim.tdx.add_asset("LOOK123", OwningCustomerID="uid-kim", SupportingDepartmentName="nit-central")
    handle = await env.client.start_workflow(
        SYSTEM_LOOKUP_WORKFLOW_TYPE,
        "LOOK123",
        id=f"lookup-{uuid4()}",
        task_queue=worker.task_queue,
        result_type=SystemLookup,
    )
    found = await handle.result()
    assert found.user is not None and found.user.name == "Kim Owner"
    assert found.support_team == "nit-central"
    await save_history(handle, "system_lookup")

    with pytest.raises(WorkflowFailureError) as failed:
        await env.client.execute_workflow(
            SYSTEM_LOOKUP_WORKFLOW_TYPE,
            "NOPE404",
            id=f"lookup-{uuid4()}",
            task_queue=worker.task_queue,
        )
    assert "unknown serial" in str(failed.value.cause.cause)
    lookups = [c for c in sim.tdx.calls if c.path.endswith("/assets/search")]
    assert len(lookups) == 2  # no retry for a serial TDX does not know
