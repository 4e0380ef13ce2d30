"""iCalendar (RFC 5545) documents: one appointment, and a support team's slot feed.

UIDs are derived from stable ids (ticket, slot), so a calendar that imports the file again
or polls the feed updates its events instead of duplicating them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from icalendar import Calendar, Event

from domain.activity_requests import EmailTicket
from domain.refresh import TicketState

PRODID = "-//deskflow//refresh//EN"


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    return cal


def appointment_ics(ticket: EmailTicket | TicketState, public_url: str) -> bytes:
    assert ticket.slot is not None
    cal = _calendar(f"Computer refresh {ticket.ticket_id}")
    ev = Event()
    ev.add("uid", f"refresh-{ticket.ticket_id}@deskflow")
    ev.add("dtstamp", datetime.now(UTC))
    ev.add("dtstart", ticket.slot.start)
    ev.add("dtend", ticket.slot.end)
    ev.add("sequence", ticket.schedule_version)
    ev.add("summary", "Computer refresh appointment")
    location = ticket.unit_location or ticket.slot.location
    ev.add("location", location)
    ev.add("description", f"New computer delivery and setup. Details: {public_url}")
    cal.add_component(ev)
    return cal.to_ical()


def team_feed_ics(
    team_name: str, slots: Iterable[tuple[int, datetime, datetime, str, int, int]], stamp: datetime
) -> bytes:
    """Feed of a team's slots: (slot_id, start, end, location, capacity, booked) each."""
    cal = _calendar(f"Refresh slots: {team_name}")
    for slot_id, start, end, location, capacity, booked in slots:
        ev = Event()
        ev.add("uid", f"slot-{slot_id}@deskflow")
        ev.add("dtstamp", stamp)
        ev.add("dtstart", start)
        ev.add("dtend", end)
        ev.add("summary", f"Refresh slot ({booked}/{capacity} booked)")
        ev.add("location", location)
        cal.add_component(ev)
    return cal.to_ical()
