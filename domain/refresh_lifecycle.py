"""The refresh lifecycle's rules as pure functions: where a ticket goes next, and when.

Seed 001's timeline in code the workflow (and the web app's explanations) share: the first
status per style, what follows a known location or the replacement turning up in TDX, and
the named deadlines with the business-day counts that set them. No I/O and no clock: the
caller passes the instants and the calendar.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.business_calendar import INVITE_TIME, BusinessCalendar
from domain.refresh import AuditEntry, Deadline, RefreshTicketInput, Status, Style, TicketState

# Business days after the invite (seed 001, timeline 5 and 6).
WIZARD_REMINDERS = {Deadline.wizard_reminder_1: 5, Deadline.wizard_reminder_2: 10}
LOCATION_INFO_AFTER = 14
WIZARD_DEADLINES = (*WIZARD_REMINDERS, Deadline.location_info)


def first_status(style: Style) -> Status:
    """No-customer tickets go straight to ordering; customers are invited first (timeline 3)."""
    return Status.pending_ordering if style == "no_customer" else Status.pending_invite


def new_ticket_state(inp: RefreshTicketInput, created_at: datetime) -> TicketState:
    """A ticket as it starts, before its setup: the workflow's first state, and the row its
    starter writes so the ticket is found in the app while TDX is still making its ticket."""
    return TicketState(
        ticket_id=inp.ticket_id,
        config_id=inp.config_id,
        style=inp.style,
        bump_down=inp.bump_down,
        status=first_status(inp.style),
        support_team=inp.support_team,
        batch_id=inp.batch_id,
        user=inp.user,
        delegate=inp.delegate,
        existing_system=inp.existing_system,
        replacement_system=inp.replacement_system,
        # A bump-down ticket brings its own system: ordering is done at creation.
        replacement_assigned=inp.bump_down,
        location=inp.existing_system.location or None,
        created_at=created_at,
    )


def refused_at_setup(s: TicketState) -> bool:
    """Whether a ticket's row is a run that ended cancelled before its setup was done: the
    row a run whose setup was refused for good leaves (`_cancel_unstarted`), and the one kind
    of ended ticket that is started again (with its run failed: a customer or staff member
    cancelling during the setup ends the run completed)."""
    return s.status == Status.cancelled and not s.setup_done


def restarted_ticket_state(
    inp: RefreshTicketInput, audits: Sequence[AuditEntry], revision: int, created_at: datetime
) -> TicketState:
    """A ticket started again after its last run failed (its setup refused, by a TDX
    setting or a team's calendar since put right): a new ticket's first state that goes on
    from the old run's audits and its row's `revision`. The app keeps a row's newest
    revision and an audit's number once: started from nothing, the new run's first rows and
    audits would lose to the old run's."""
    return new_ticket_state(inp, created_at).model_copy(
        update={"audits": list(audits), "revision": revision}
    )


def wizard_deadlines(calendar: BusinessCalendar, invited: datetime) -> dict[Deadline, datetime]:
    """Two reminders, then the hand-over to staff, counted from the invite's business day at
    the invite time (10:05): an invite staff sent early, late at night, still reminds at 10:05."""
    days = {**WIZARD_REMINDERS, Deadline.location_info: LOCATION_INFO_AFTER}
    base = calendar.at_local(calendar.business_day_of(invited), INVITE_TIME)
    return {name: calendar.business_days_after(base, n) for name, n in days.items()}


def status_after_location(requires_approval: bool, approved_by: str | None) -> Status:
    """Location known (wizard or staff): approval if the config asks for it, else ordering."""
    if requires_approval and not approved_by:
        return Status.pending_approval
    return Status.pending_ordering


def status_after_itsm(style: Style) -> Status:
    """The replacement is in TDX (timeline 9.2): scheduling, shipping, or a generic slot."""
    if style in ("on_prem", "unit_location"):
        return Status.pending_slot_discovery
    if style == "remote":
        return Status.pending_delivery
    return Status.delivery_scheduled
