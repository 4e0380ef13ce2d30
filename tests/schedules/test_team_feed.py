"""A team's ICS feed parses back, and its UIDs stay the same from one generation to the next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from store.slot_feed import UnknownTeam, team_feed
from store.slots import book_slot, delete_slot
from tests.schedules.helpers import add_slot, new_team, sessions_for

NOW = datetime(2027, 5, 3, 12, 0, tzinfo=UTC)


def events(feed: bytes) -> dict[str, dict]:
    cal = Calendar.from_ical(feed)
    return {
        str(ev["uid"]): {
            "start": ev.decoded("dtstart"),
            "end": ev.decoded("dtend"),
            "summary": str(ev["summary"]),
            "location": str(ev["location"]),
        }
        for ev in cal.walk("VEVENT")
    }


def test_feed_round_trip_with_stable_uids(settings):
    team = new_team(settings)
    ids = [add_slot(settings, team, NOW + timedelta(days=d, hours=2), capacity=2) for d in (1, 2)]
    old = add_slot(settings, team, NOW - timedelta(days=40))  # beyond the feed's 30 days back
    sessions = sessions_for(settings)
    with sessions() as db:
        first = team_feed(db, team, now=NOW)
    cal = Calendar.from_ical(first)
    assert str(cal["x-wr-calname"]) == f"Refresh slots: Team {team}"
    one = events(first)
    assert sorted(one) == sorted(f"slot-{i}@deskflow" for i in ids)
    assert f"slot-{old}@deskflow" not in one
    assert one[f"slot-{ids[0]}@deskflow"]["start"] == NOW + timedelta(days=1, hours=2)
    assert one[f"slot-{ids[0]}@deskflow"]["end"] == NOW + timedelta(days=1, hours=3)
    assert one[f"slot-{ids[0]}@deskflow"]["summary"] == "Refresh slot (0/2 booked)"

    # Something changes: a booking, a deleted slot, a new slot. The next generation keeps
    # each surviving slot's UID, so subscribed calendars update events instead of duplicating.
    with sessions.begin() as db:
        book_slot(db, slot_id=ids[0], ticket_id="T-feed-1", team_id=team, now=NOW)
        delete_slot(db, ids[1], "lead", NOW)
    new = add_slot(settings, team, NOW + timedelta(days=3))
    with sessions() as db:
        two = events(team_feed(db, team, now=NOW + timedelta(hours=1)))
    assert sorted(two) == sorted([f"slot-{ids[0]}@deskflow", f"slot-{new}@deskflow"])
    assert two[f"slot-{ids[0]}@deskflow"]["start"] == one[f"slot-{ids[0]}@deskflow"]["start"]
    assert two[f"slot-{ids[0]}@deskflow"]["summary"] == "Refresh slot (1/2 booked)"
    with sessions() as db:
        assert events(team_feed(db, team, now=NOW + timedelta(hours=1))).keys() == two.keys()


def test_unknown_team(settings):
    with sessions_for(settings)() as db, pytest.raises(UnknownTeam):
        team_feed(db, "no-such-team")
