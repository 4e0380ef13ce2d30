"""Every input is checked: fuzzed messages are refused naming a field, and no payload (null,
wrong type, oversize, garbage) ever fails a workflow task of Outage or PartnerTriage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy

from domain.outages import UPDATES
from domain.partner_triage import TriageInput, workflow_id
from operations.errors import FieldError
from operations.outages import _checked
from tests.itsm.helpers import until
from tests.outages.helpers import act, log_sn_incidents, state

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=5)
    ),
    max_leaves=20,
)
fields = st.sampled_from(
    [
        "service",
        "summary",
        "incidents",
        "reported_by",
        "owner_team",
        "confirmed_by",
        "ticket_id",
        "by",
        "reason",
        "resolved_by",
        "notes",
        "follow_up_team",
        "team",
        "action",
        "role",
        "extra",
    ]
)
messages = st.dictionaries(fields, json_values, max_size=6)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(UPDATES)), data=st.one_of(messages, json_values))
def test_any_message_is_accepted_whole_or_refused_naming_a_field(name, data):
    try:
        msg = _checked(name, data, UPDATES)
    except FieldError as e:
        assert e.status == 422 and e.field and e.message
    else:
        assert isinstance(msg, UPDATES[name])


BAD = [
    None,
    42,
    "link",
    [],
    ["INC1"],
    {"ticket_id": None, "by": "a"},
    {"ticket_id": "I" * 10_000},
    {"ticket_id": "INC1", "by": "a", "unknown": 1},
    {"ticket_id": {"$ne": 1}, "by": "x"},
]


async def no_task_failed(handle) -> None:
    async for event in handle.fetch_history_events():
        assert not event.HasField("workflow_task_failed_event_attributes"), event


async def test_garbage_updates_are_rejected_and_the_outage_goes_on(
    env, worker, processes_loaded, sim
):
    incidents = log_sn_incidents(sim, 2, "fuzz")
    await act(
        env,
        worker,
        "fuzz-1",
        "report_potential",
        service="Printing",
        summary="Queue down",
        incidents=incidents[:1],
        reported_by="Hana",
    )
    handle = env.client.get_workflow_handle("outage-fuzz-1")
    for name in sorted(UPDATES):
        for payload in BAD:
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(name, payload)
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update("no_such_update", {"x": 1})
    await act(env, worker, "fuzz-1", "link_incident", ticket_id=incidents[1], by="agent")
    assert sorted((await state(env, "fuzz-1")).incidents) == sorted(incidents)
    await no_task_failed(handle)


async def test_garbage_ticket_events_never_fail_triage(env, worker, processes_loaded):
    wid = workflow_id("halo", "424242")
    for payload in BAD + [{"itsm": "halo", "delivery_id": "d", "ticket": {"id": "x"}}]:
        await env.client.start_workflow(
            "PartnerTriage",
            TriageInput(itsm="halo", ticket_id="424242"),
            id=wid,
            task_queue=worker.task_queue,
            start_signal="ticket_event",
            start_signal_args=[payload],
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    handle = env.client.get_workflow_handle(wid)
    s = await until(lambda: handle.query("state"), lambda s: s["decision"] is None, "still waiting")
    assert s["ticket"] is None
    for payload in [*BAD, {"group": "Network Services", "by": "a"}]:  # not triaged yet, too
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update("reassign", payload)
    await no_task_failed(handle)
