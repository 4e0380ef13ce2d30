"""Fuzzing every input of provisioning intake: the Exhibit A rules, the payload parser, the
category and hours readers, and the running workflow's updates and signals. Nothing may raise
anything but the refusal, echo a password, or fail a workflow task."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from domain.business_calendar import BusinessCalendar
from domain.provisioning import (
    EXHIBIT_FIELDS,
    ExhibitA,
    ExhibitDraft,
    ExhibitInvalid,
    IntakeState,
    category_of,
    parse_hours,
    parse_submission,
    validate_exhibit,
)
from tests.itsm.helpers import local, move_to
from tests.provisioning.helpers import ALEX, CASEY, CAT_8B, PAT, SAM, exhibit, handle, wait_state

CAL = BusinessCalendar(timezone="America/Detroit", closed_dates=frozenset())
NOW = local(2026, 12, 7, 9)
MARK = "Zq9#"  # no refusal message contains it, so finding it means a value was echoed
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
passwords = st.text(min_size=1, max_size=60).map(lambda t: MARK + t)
field_values = st.one_of(
    json_values,
    st.sampled_from(["yes", "no", "New CIT", "pulled from inventory", "2026-12-18", "ABCD-1234"]),
    st.text(max_size=5000),
)


@st.composite
def drafts(draw) -> dict[str, Any]:
    base = exhibit(domain_password=draw(passwords), m365_password=draw(passwords))
    for name in draw(st.sets(st.sampled_from(list(EXHIBIT_FIELDS)))):
        base[name] = draw(field_values if "password" not in name else json_values | passwords)
    if draw(st.booleans()):
        base[draw(st.text(max_size=10))] = draw(passwords)
    return base


def _secret_strings(d: dict[str, Any]) -> list[str]:
    return [v for v in d.values() if isinstance(v, str) and v.startswith(MARK)]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(drafts())
def test_exhibit_rules_refuse_by_field_and_never_echo(draft):
    try:
        valid = validate_exhibit(ExhibitDraft.model_validate(draft), CAL, NOW)
    except ExhibitInvalid as e:
        assert e.problems and all(f in EXHIBIT_FIELDS for f, _ in e.problems)
        for secret in _secret_strings(draft):
            assert secret not in str(e)
    else:
        assert isinstance(valid, ExhibitA)
        assert CAL.is_business_day(valid.by_when) and valid.by_when > NOW.date()
        public = valid.public().model_dump_json()
        assert "domain_password" not in public and "m365_password" not in public
        for secret in _secret_strings(draft):
            assert secret not in public


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, st.fixed_dictionaries({"by": json_values, "details": json_values})))
def test_any_payload_parses_or_is_refused_by_field(raw):
    try:
        parse_submission(raw)
    except ExhibitInvalid as e:
        assert e.problems


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_category_reader_takes_any_text(text):
    number, sub = category_of(text)
    assert number in (None, 7, 8)
    assert (sub is None) == (number != 8)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_hours_are_a_number_in_range_or_refused(value):
    try:
        hours = parse_hours(value)
    except ValueError as e:
        assert "hours" in str(e)
    else:
        assert 0 < hours <= 24


UPDATE_NAMES = [
    "equipment_received",
    "set_subcategory",
    "assign",
    "submit_details",
    "log_time",
    "reclassify_as_repair",
    "request_close",
]
actors = st.sampled_from([ALEX, CASEY, PAT, SAM]).map(lambda a: a.model_dump())


@st.composite
def messages(draw) -> tuple[str, str, Any]:
    kind = draw(st.sampled_from(["update", "update", "signal"]))
    if kind == "signal":
        return "signal", "ticket_event", draw(json_values)
    name = draw(st.sampled_from(UPDATE_NAMES))
    body = draw(st.one_of(json_values, st.dictionaries(st.text(max_size=12), json_values)))
    if isinstance(body, dict) and draw(st.booleans()):
        body["by"] = draw(actors)
        if name == "submit_details":
            body["details"] = draw(drafts())
    return "update", name, body


def sample_messages(n: int) -> list[tuple[str, str, Any]]:
    found: list[tuple[str, str, Any]] = []

    @settings(max_examples=1, database=None, derandomize=True, deadline=None)
    @given(st.lists(messages(), min_size=n, max_size=n))
    def collect(items):
        found[:] = items

    collect()
    return found


async def test_fuzzed_updates_and_signals_never_fail_the_workflow(env, halo, sim):
    await move_to(env, sim, local(2026, 12, 7, 9))
    t = sim.halo.log_ticket("Fuzzed laptop", category_1=CAT_8B)
    h = handle(env, t["id"])
    await wait_state(h, lambda s: s.status is not None, "intake")
    refused = accepted = 0
    for kind, name, body in sample_messages(60):
        if kind == "signal":
            await h.signal(name, body)
            continue
        try:
            await h.execute_update(name, body, result_type=IntakeState)
            accepted += 1
        except WorkflowUpdateFailedError as e:
            refused += 1
            if isinstance(body, dict) and isinstance(body.get("details"), dict):
                for secret in _secret_strings(body["details"]):
                    assert secret not in str(e.cause)
    assert refused > 0
    s = await h.query("state", result_type=IntakeState)
    assert s is not None and s.halo_ticket_id == str(t["id"])
    history = await h.fetch_history()
    failed = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    ]
    assert failed == [], failed[0] if failed else None
    desc = await h.describe()
    assert desc.status in (WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED)
