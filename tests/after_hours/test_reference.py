"""The `after_hours:` block through `deskflow load`: loads, reloads unchanged, and a bad file
is refused whole with the line and field at fault."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from store.after_hours import read_desk
from store.db import make_engine, migrate, session_factory
from store.reference import ReferenceDataError, load_reference_file

HERE = Path(__file__).parent


@pytest.fixture
def sessions(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'ref.db'}"
    migrate(url)
    return session_factory(make_engine(url))


def test_the_block_loads_and_reads_back_with_holidays(sessions):
    with sessions.begin() as db:
        report = load_reference_file(HERE / "after_hours.yaml", db)
    assert (report.counts["after_hours"].created, report.changed) == (1, True)
    with sessions.begin() as db:
        again = load_reference_file(HERE / "after_hours.yaml", db)
    assert not again.changed
    with sessions() as db:
        desk = read_desk(db, range(2026, 2028), "America/Detroit", "halo")
    assert desk.partner("fpm").kind == "aims" and desk.schedule("gds").name.startswith("GDS")
    assert {d.isoformat() for d in desk.closed} >= {"2026-12-24", "2026-12-25"}


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("person: dave}", "'zed' is not among the responders"),
        ("kind: aims, schedule: aims}", "unknown schedule 'nope'"),
        ("turn: 1d,", "is not a turn length"),
    ],
)
def test_a_bad_block_is_refused_whole_naming_line_and_field(sessions, tmp_path, bad, expected):
    text = (HERE / "after_hours.yaml").read_text()
    replacement = {
        "person: dave}": "person: zed}",
        "kind: aims, schedule: aims}": "kind: aims, schedule: nope}",
        "turn: 1d,": "turn: daily,",
    }[bad]
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(bad, replacement, 1))
    with sessions.begin() as db, pytest.raises(ReferenceDataError) as e:
        load_reference_file(path, db)
    assert expected in str(e.value)
    assert re.search(r"bad\.yaml:\d+: after_hours", str(e.value)), str(e.value)
    with sessions() as db, pytest.raises(LookupError):
        read_desk(db, range(2026, 2027), "America/Detroit", "halo")
