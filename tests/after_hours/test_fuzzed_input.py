"""Fuzzed input (hypothesis): no payload — null, wrong type, oversize, junk — fails a
workflow task or half-changes a case. Bad updates are refused naming a field; bad start
inputs end the case as refused with the field; the paging goes on untouched."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from temporalio.client import WorkflowUpdateFailedError

from domain.after_hours import Acknowledge, CaseStatus, Intake, TechnicianContacted
from tests.after_hours.helpers import case, case_until, intake, local, move_to, outcome, start

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.just("x" * 20_000),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)
PAID = ("alice", "bob", "carol", "dave", "erin", "frank", "hannah", "jeff")
UPDATE_PAYLOADS = st.one_of(
    JSON,
    st.fixed_dictionaries({"by": JSON}),
    st.fixed_dictionaries({"by": st.text(max_size=80).filter(lambda t: t not in PAID)}),
    st.fixed_dictionaries({"by": st.just("alice"), "extra": JSON}),
)


def collect(strategy: st.SearchStrategy, n: int) -> list[Any]:
    """`n` examples of `strategy`, the same every run (async tests cannot use @given)."""
    found: list[Any] = []

    @settings(
        max_examples=n,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def gather(value: Any) -> None:
        found.append(value)

    gather()
    return found[:n]


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_the_intake_model_refuses_junk_with_a_validation_error_only(payload):
    try:
        Intake.model_validate(payload)
    except ValidationError as e:
        assert e.errors()[0]["loc"] is not None


@settings(max_examples=300, deadline=None)
@given(UPDATE_PAYLOADS)
def test_update_models_refuse_junk_with_a_validation_error_only(payload):
    for model in (Acknowledge, TechnicianContacted):
        try:
            model.model_validate(payload)
        except ValidationError as e:
            assert all(err["loc"] for err in e.errors()) or not isinstance(payload, dict)


async def test_junk_updates_are_refused_and_the_paging_goes_on(env, worker, sim, paging):
    night = local(2026, 12, 11, 22)
    await move_to(env, sim, night)
    h = await start(env, worker.task_queue, intake("c-fuzz"))
    before = await case_until(h, lambda c: len(c.pages) == 1, "the first page")
    payloads = collect(UPDATE_PAYLOADS, 40)
    for payload in payloads:
        for name in ("acknowledge", "technician_contacted"):
            try:
                await h.execute_update(name, payload)
            except WorkflowUpdateFailedError as e:
                assert ": " in e.cause.message, e.cause.message  # "field: why"
            else:
                raise AssertionError(f"{name} accepted {payload!r}")
    s = await case(h)
    assert (s.status, s.pages, s.acknowledged_by, s.contacted_at) == (
        CaseStatus.paging,
        before.pages,
        None,
        None,
    )
    # `resolve` takes any name: junk is refused, the first good one ends the paging.
    outcomes = []
    for payload in payloads:
        try:
            await h.execute_update("resolve", payload)
        except WorkflowUpdateFailedError as e:
            outcomes.append(e.cause.message.split(":")[0])
        else:
            outcomes.append("ok")
            break  # resolved: the case ends
    assert (await case(h)).status == (
        CaseStatus.resolved if "ok" in outcomes else CaseStatus.paging
    )
    assert len(sim.paging.pages()) == 1


async def test_junk_start_inputs_end_refused_never_stuck(env, worker, sim, paging):
    await move_to(env, sim, local(2026, 12, 11, 22))
    for i, payload in enumerate(collect(JSON, 8)):
        data = payload if isinstance(payload, dict) else {"junk": payload}
        data = {**data, "case_id": f"junk-{i}"}
        s = await outcome(await start(env, worker.task_queue, data))
        assert s.status == CaseStatus.refused and s.refusal, s
    assert sim.paging.pages() == []
