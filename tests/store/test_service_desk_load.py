"""The `service_desk:` block of `deskflow load`: checked whole, located by line and field,
read back as the desk the workflows use (its own calendar and holidays)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from store.db import session_scope
from store.reference import ReferenceDataError, load_reference_file
from store.service_desk import read_service_desk

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_desk_loads_once_and_reads_back(engine: Engine):
    with session_scope(engine) as db:
        report = load_reference_file(ROOT / "demo" / "reference.yaml", db)
    assert report.counts["service_desk"].created == 1
    with session_scope(engine) as db:
        again = load_reference_file(ROOT / "demo" / "reference.yaml", db)
    assert again.counts["service_desk"].unchanged == 1
    with session_scope(engine) as db:
        desk = read_service_desk(db, range(2026, 2028))
    assert desk.calendar.timezone == "America/Detroit"
    assert date(2026, 12, 25) in desk.calendar.closed_dates  # US holiday
    assert date(2026, 12, 24) in desk.calendar.closed_dates  # closed day of the block
    assert [t.id for t in desk.spec.teams] == ["support", "hardware", "accounts"]


@pytest.mark.parametrize(
    ("block", "field", "message"),
    [
        (
            'sla_policies: [{id: p, priorities: {"1": {response: soon, resolution: 4h}}}]',
            "service_desk.sla_policies[0].priorities.1.response",
            "is not a duration",
        ),
        ("routing_rules: [{team: nobody}]", "service_desk", "unknown team 'nobody'"),
        (
            "routing_rules: [{category: Printer, team: t}]",
            "service_desk",
            "the last rule must match everything",
        ),
        (
            'calendar: {business_hours: {start: "8am", end: "17:00"}}',
            "service_desk.calendar.business_hours.start",
            "String should match",
        ),
    ],
)
def test_a_bad_desk_is_refused_whole_with_line_and_field(engine, tmp_path, block, field, message):
    parts = {
        "teams": "teams: [{id: t, name: T, itsm_team: T, slack_channel: '#t'}]",
        "sla_policies": (
            'sla_policies: [{id: p, priorities: {"1": {response: 1h, resolution: 4h}}}]'
        ),
        "routing_rules": "routing_rules: [{team: t}]",
    }
    parts[block.split(":")[0]] = block
    path = tmp_path / "desk.yaml"
    path.write_text("# a desk\nservice_desk:\n" + "".join(f"  {v}\n" for v in parts.values()))
    with session_scope(engine) as db, pytest.raises(ReferenceDataError) as err:
        load_reference_file(path, db)
    assert f"{path}:" in str(err.value) and f"{field}: " in str(err.value)
    assert message in str(err.value)
    with session_scope(engine) as db, pytest.raises(LookupError):
        read_service_desk(db, range(2026, 2027))  # nothing was written
