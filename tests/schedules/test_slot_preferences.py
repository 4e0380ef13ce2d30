"""The preference editor's data rules: list, replace, add, edit, delete, each validated."""

from __future__ import annotations

import pytest

from store.slot_preferences import (
    PreferenceError,
    UnknownPreference,
    UnknownTeam,
    add_preference,
    delete_preference,
    edit_preference,
    list_preferences,
    replace_preferences,
)
from tests.schedules.helpers import new_team, sessions_for

TUE = {"weekday": 1, "start": "09:00", "length_minutes": 60, "capacity": 3, "location": "Depot"}


def test_replace_list_edit_delete(settings):
    team = new_team(settings, [dict(TUE)])
    sessions = sessions_for(settings)
    with sessions.begin() as db:
        [before] = list_preferences(db, team)
        views = replace_preferences(
            db,
            team,
            [
                {**TUE, "capacity": 4},  # same weekday+start: kept (same id), changed
                {
                    "weekday": "thu",
                    "start": "13:00",
                    "length_minutes": 90,
                    "capacity": 2,
                    "location": "Depot",
                },
                {
                    "weekday": "Monday",
                    "start": "9:30",
                    "length_minutes": 30,
                    "capacity": 1,
                    "location": "North",
                },
            ],
        )
    assert [(v.weekday_name, v.start, v.end, v.capacity) for v in views] == [
        ("mon", "09:30", "10:00", 1),
        ("tue", "09:00", "10:00", 4),
        ("thu", "13:00", "14:30", 2),
    ]
    assert views[1].id == before.id
    with sessions.begin() as db:
        edited = edit_preference(db, team, views[0].id, {"capacity": 6, "start": "11:00"})
        assert (edited.start, edited.capacity, edited.location) == ("11:00", 6, "North")
        added = add_preference(
            db,
            team,
            {
                "weekday": 4,
                "start": "10:00",
                "length_minutes": 60,
                "capacity": 2,
                "location": "Depot",
            },
        )
        delete_preference(db, team, views[2].id)
    with sessions() as db:
        assert [(v.weekday, v.start) for v in list_preferences(db, team)] == [
            (0, "11:00"),
            (1, "09:00"),
            (4, "10:00"),
        ]
        assert added.id in [v.id for v in list_preferences(db, team)]


def test_bad_changes_are_refused_whole(settings):
    team = new_team(settings, [dict(TUE)])
    sessions = sessions_for(settings)
    with sessions.begin() as db, pytest.raises(PreferenceError) as refused:
        replace_preferences(
            db,
            team,
            [
                {**TUE, "capacity": 0, "start": "25:00"},
                {**TUE, "weekday": "sat"},
                {**TUE, "weekday": 2, "start": "17:30"},
            ],
        )
    fields = [(p.index, p.field) for p in refused.value.problems]
    assert fields == [(0, "start"), (0, "capacity")]  # shape errors first, all of them
    with sessions.begin() as db, pytest.raises(PreferenceError) as refused:
        replace_preferences(db, team, [{**TUE, "weekday": "sat"}, {**TUE, "start": "17:30"}])
    text = str(refused.value)
    assert "preference 1: weekday: sat is never a business day" in text
    assert "preference 2: start: 17:30-18:30 is outside business hours 05:00-18:00" in text
    with sessions() as db:  # nothing written
        assert [(v.start, v.capacity) for v in list_preferences(db, team)] == [("09:00", 3)]

    with sessions.begin() as db:
        [tue] = list_preferences(db, team)
        with pytest.raises(PreferenceError, match="overlaps tue 09:00-10:00 at Depot"):
            add_preference(db, team, {**TUE, "start": "09:30"})
        with pytest.raises(PreferenceError, match="already starts tue 09:00"):
            add_preference(db, team, dict(TUE))
        with pytest.raises(PreferenceError, match="length_minutes"):
            edit_preference(db, team, tue.id, {"length_minutes": -5})
        with pytest.raises(UnknownPreference):
            edit_preference(db, team, 10**9, {"capacity": 2})
        with pytest.raises(UnknownPreference):
            delete_preference(db, team, 10**9)
        with pytest.raises(UnknownTeam):
            list_preferences(db, "no-such-team")
