"""`deskflow load FILE`: the demo file loads idempotently; a bad file is refused whole."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from store.db import session_scope
from store.reference import (
    LoadReport,
    ReferenceDataError,
    hash_password,
    load_reference_file,
    verify_password,
)
from store.tables import (
    Base,
    CalendarConfig,
    RefreshConfig,
    SlotPreference,
    StaffUser,
    SupportTeam,
)

DEMO = Path(__file__).resolve().parents[2] / "demo" / "reference.yaml"


def _load(engine: Engine, path: Path, prune: bool = False) -> LoadReport:
    with session_scope(engine) as session:
        return load_reference_file(path, session, prune=prune)


def _row_counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def _counts(report: LoadReport) -> dict[str, tuple[int, int, int, int]]:
    return {
        kind: (c.created, c.updated, c.unchanged, c.deleted) for kind, c in report.counts.items()
    }


def test_demo_file_loads_and_reloads_unchanged(engine: Engine) -> None:
    first = _load(engine, DEMO)
    assert _counts(first) == {
        "calendar": (1, 0, 0, 0),
        "support_teams": (3, 0, 0, 0),
        "slot_preferences": (12, 0, 0, 0),
        "refresh_configs": (4, 0, 0, 0),
        "staff": (13, 0, 0, 0),
        "service_desk": (1, 0, 0, 0),
        "provisioning": (1, 0, 0, 0),
        "after_hours": (1, 0, 0, 0),
        "outages": (1, 0, 0, 0),
        "partner_triage": (1, 0, 0, 0),
    }
    assert first.changed
    rows_after_first = _row_counts(engine)

    second = _load(engine, DEMO)
    assert not second.changed
    assert _counts(second) == {
        "calendar": (0, 0, 1, 0),
        "support_teams": (0, 0, 3, 0),
        "slot_preferences": (0, 0, 12, 0),
        "refresh_configs": (0, 0, 4, 0),
        "staff": (0, 0, 13, 0),
        "service_desk": (0, 0, 1, 0),
        "provisioning": (0, 0, 1, 0),
        "after_hours": (0, 0, 1, 0),
        "outages": (0, 0, 1, 0),
        "partner_triage": (0, 0, 1, 0),
    }
    assert _row_counts(engine) == rows_after_first
    assert "support_teams: 0 created, 0 updated, 3 unchanged" in str(second)


def test_demo_content_as_stored(engine: Engine) -> None:
    _load(engine, DEMO)
    with session_scope(engine) as session:
        calendar = session.get(CalendarConfig, 1)
        assert calendar is not None
        assert (calendar.timezone, calendar.business_start, calendar.business_end) == (
            "America/Detroit",
            "05:00",
            "18:00",
        )
        assert calendar.country_holidays == "US"
        assert calendar.closed_days[0] == "2026-12-24"
        assert calendar.closed_days[-1] == "2027-01-01"
        assert len(calendar.closed_days) == 9

        styles = {c.default_style for c in session.scalars(select(RefreshConfig))}
        assert styles == {"on_prem", "remote", "unit_location", "no_customer"}
        onprem = session.get(RefreshConfig, "lsa-fy27-onprem")
        assert onprem is not None and onprem.requires_approval
        assert onprem.approvers[0] == {
            "uniqname": "jdoe",
            "name": "Jane Doe",
            "email": "jdoe@example.edu",
        }
        assert onprem.options["can_customize_computer"] is True
        assert {m["platform"] for m in onprem.approved_models} == {"windows", "mac"}
        assert set(onprem.proposed_models) == {"windows", "mac"}
        unit = session.get(RefreshConfig, "eng-fy27-unit")
        assert unit is not None and unit.unit_location and unit.support_team == "nit-north"

        central = session.get(SupportTeam, "nit-central")
        assert central is not None
        first_pref = central.slot_preferences[0]
        assert (first_pref.weekday, first_pref.start, first_pref.capacity) == (1, "09:00", 3)

        roles = {u.username: u.roles for u in session.scalars(select(StaffUser))}
        assert sorted(r for rs in roles.values() for r in rs) == [
            "analyst",
            "approver",
            "care_team",
            "desk_manager",
            "hdqa",
            "help_desk",
            "help_desk",
            "procurement",
            "provisioning_specialist",
            "refresh_admin",
            "refresh_manager",
            "slot_admin",
            "sncc",
        ]
        for user in session.scalars(select(StaffUser)):
            assert "deskflow-dev" not in user.password_hash
            assert user.password_hash.startswith("scrypt$")
            assert verify_password(user.password_hash, "deskflow-dev")
            assert not verify_password(user.password_hash, "wrong-password")


def test_changed_file_updates_and_prunes_only_when_asked(engine: Engine, tmp_path: Path) -> None:
    _load(engine, DEMO)
    text = DEMO.read_text()
    # nit-medical: drop the Monday preference, raise Friday's capacity.
    text = text.replace(
        '      - {weekday: mon, start: "08:00", length_minutes: 90, capacity: 2, '
        'location: "Medical Science Unit II, Room 3100"}\n',
        "",
    )
    text = text.replace(
        'weekday: fri, start: "10:30", length_minutes: 60, capacity: 4',
        'weekday: fri, start: "10:30", length_minutes: 60, capacity: 5',
    )
    text = text.replace("name: NIT North Campus", "name: NIT North Campus (Duderstadt)")
    text = text.replace(
        "{username: rmanager, name: Morgan Manager, email: rmanager@example.edu, "
        "roles: [refresh_manager], password: deskflow-dev}",
        "{username: rmanager, name: Morgan Manager, email: rmanager@example.edu, "
        "roles: [refresh_manager], password: a-new-password}",
    )
    changed = tmp_path / "reference.yaml"
    changed.write_text(text)

    report = _load(engine, changed)
    assert _counts(report)["slot_preferences"] == (0, 1, 10, 0)
    assert _counts(report)["support_teams"] == (0, 1, 2, 0)
    assert _counts(report)["staff"] == (0, 1, 12, 0)
    assert report.counts["slot_preferences"].kept == 1
    assert "1 row not in the file kept; --prune deletes it" in str(report)
    with session_scope(engine) as session:
        weekdays = session.scalars(
            select(SlotPreference.weekday).where(SlotPreference.team_id == "nit-medical")
        ).all()
        assert sorted(weekdays) == [0, 2, 4]  # Monday stays: the file only stopped listing it

    pruned = _load(engine, changed, prune=True)
    assert _counts(pruned)["slot_preferences"] == (0, 0, 11, 1)
    assert "--prune" not in str(pruned)
    with session_scope(engine) as session:
        weekdays = session.scalars(
            select(SlotPreference.weekday).where(SlotPreference.team_id == "nit-medical")
        ).all()
        assert sorted(weekdays) == [2, 4]
        manager = session.get(StaffUser, "rmanager")
        assert manager is not None and verify_password(manager.password_hash, "a-new-password")
    assert not _load(engine, changed).changed


def test_reload_keeps_a_slot_preference_added_by_hand(engine: Engine) -> None:
    """A Schedule Slot Admin adds a slot time in the console; re-loading the demo file (as
    every `make run` does) keeps it."""
    _load(engine, DEMO)
    with session_scope(engine) as session:
        team = session.get(SupportTeam, "nit-medical")
        assert team is not None
        team.slot_preferences.append(
            SlotPreference(weekday=3, start="13:00", length_minutes=60, capacity=1, location="")
        )
    report = _load(engine, DEMO)
    assert not report.changed and report.counts["slot_preferences"].kept == 1
    with session_scope(engine) as session:
        starts = session.scalars(
            select(SlotPreference.start).where(
                SlotPreference.team_id == "nit-medical", SlotPreference.weekday == 3
            )
        ).all()
        assert "13:00" in starts


BAD_FILE = """\
calendar:
  timezone: America/Detroit
  business_hours: {start: "05:00", end: "18:00"}
  colour: blue
support_teams:
  - id: nit-central
    name: NIT Central
    slack_channel: "#nit-central"
    default_location: Mason Hall
    slot_preferences:
      - weekday: tue
        start: "09:00"
        length_minutes: 60
        capacity: 3
        location: Mason Hall
      - weekday: funday
        start: "25:00"
        length_minutes: 60
        capacity: 3
        location: Mason Hall
      - weekday: wed
        start: 10:30
        length_minutes: 60
        capacity: 3
        location: Mason Hall
refresh_configs:
  - id: lsa
    name: LSA
    org: LSA
    default_style: on_prem
    support_team: nit-nowhere
    proposed_models: {windows: Dell, mac: MacBook}
  - id: lsa-labs
    name: LSA labs
    org: LSA
    default_style: no_customer
    support_team: nit-central
    proposed_models: {windows: Dell, mac: iMac}
"""


def test_bad_file_is_refused_whole_with_lines(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_FILE)
    before = _row_counts(engine)
    with pytest.raises(ReferenceDataError) as caught:
        _load(engine, bad)
    message = str(caught.value)
    lines = message.splitlines()
    assert all(line.startswith(f"{bad}:") for line in lines), message
    expected = {
        4: "calendar.colour: Extra inputs are not permitted",
        16: "support_teams[0].slot_preferences[1].weekday: Input should be 'mon'",
        17: "support_teams[0].slot_preferences[1].start: '25:00' is not a 24-hour",
        22: "support_teams[0].slot_preferences[2].start: write times as quoted",
        31: "refresh_configs[0].support_team: unknown support team 'nit-nowhere'",
    }
    for line_no, text in expected.items():
        assert any(line.startswith(f"{bad}:{line_no}: {text}") for line in lines), (
            line_no,
            message,
        )
    # nit-central is declared (if invalid), so the config naming it is not reported.
    assert len(caught.value.problems) == len(expected)
    assert _row_counts(engine) == before  # nothing written, not even the valid calendar


def test_unknown_team_in_config_is_refused(engine: Engine, tmp_path: Path) -> None:
    # The shape is valid, so the cross checks run: the config's team exists nowhere.
    text = BAD_FILE.replace("  colour: blue\n", "")
    text = text.replace("weekday: funday", "weekday: fri").replace('"25:00"', '"15:00"')
    text = text.replace("start: 10:30", 'start: "10:30"')
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(ReferenceDataError) as caught:
        _load(engine, bad)
    assert str(caught.value) == (
        f"{bad}:30: refresh_configs[0].support_team: unknown support team 'nit-nowhere' "
        "(not in this file or the database)"
    )
    assert _row_counts(engine)["support_team"] == 0

    # Fixed, it loads; a later file may then name the team without declaring it again.
    bad.write_text(text.replace("nit-nowhere", "nit-central"))
    assert _load(engine, bad).counts["refresh_configs"].created == 2
    only_config = tmp_path / "config-only.yaml"
    only_config.write_text(
        text[text.index("refresh_configs:") :].replace("nit-nowhere", "nit-central")
    )
    assert _load(engine, only_config).counts["refresh_configs"].unchanged == 2


def test_bad_file_after_good_one_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    _load(engine, DEMO)
    before = _row_counts(engine)
    text = DEMO.read_text().replace("name: NIT Medical Campus", "name: Renamed")
    text = text.replace("roles: [slot_admin]", "roles: [slot_admin, janitor]")
    bad = tmp_path / "reference.yaml"
    bad.write_text(text)
    with pytest.raises(ReferenceDataError, match=r"staff\[2\]\.roles\[1\]: Input should be"):
        _load(engine, bad)
    assert _row_counts(engine) == before
    with session_scope(engine) as session:
        team = session.get(SupportTeam, "nit-medical")
        assert team is not None and team.name == "NIT Medical Campus"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", r":1: \(root\): the file is empty"),
        ("calendar: [unclosed\n", r":2: \(yaml\): invalid YAML"),
        ("- just\n- a list\n", r":1: \(root\): Input should be a valid dictionary"),
        (
            "staff:\n  - username: a\n    username: b\n    name: A\n    email: a@example.edu\n"
            "    roles: [approver]\n    password: long-enough\n",
            r":3: staff\[0\]\.username: key appears twice",
        ),
        (
            "staff:\n  - {username: a, name: A, email: not-an-email, roles: [approver],"
            " password: long-enough}\n",
            r":2: staff\[0\]\.email: value is not a valid email address",
        ),
        (
            "staff:\n  - {username: a, name: A, email: a@example.edu, roles: [approver]}\n",
            r":2: staff\[0\]: give exactly one of password or password_hash",
        ),
        (
            "refresh_configs:\n  - id: x\n    name: X\n    org: X\n    default_style: on_prem\n"
            "    requires_approval: true\n    proposed_models: {windows: A, mac: B}\n",
            r":6: refresh_configs\[0\]\.requires_approval: is true but no approver is named",
        ),
    ],
)
def test_problem_reports(engine: Engine, tmp_path: Path, content: str, expected: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    with pytest.raises(ReferenceDataError) as caught:
        _load(engine, bad)
    assert re.search(expected, str(caught.value)), str(caught.value)
    assert _row_counts(engine)["staff_user"] == 0


def test_password_hash_may_be_given_instead_of_password(engine: Engine, tmp_path: Path) -> None:
    stored = hash_password("s3cret-enough")
    path = tmp_path / "staff.yaml"
    path.write_text(
        "staff:\n  - {username: ops, name: Ops, email: ops@example.edu, roles: [refresh_admin],"
        f" password_hash: '{stored}'}}\n"
    )
    assert _load(engine, path).counts["staff"].created == 1
    assert not _load(engine, path).changed
    with session_scope(engine) as session:
        user = session.get(StaffUser, "ops")
        assert user is not None and user.password_hash == stored
    path.write_text(path.read_text().replace(stored, "plain-text"))
    with pytest.raises(ReferenceDataError, match="not a hash made by hash_password"):
        _load(engine, path)


def test_verify_password_rejects_malformed_hashes() -> None:
    good = hash_password("correct horse")
    assert verify_password(good, "correct horse")
    assert hash_password("correct horse") != good  # salted
    for bad in ("", "plain", "scrypt$1$8$1$00$00", "scrypt$16384$8$1$zz$00", good[:-2] + "$x"):
        assert not verify_password(bad, "correct horse")
