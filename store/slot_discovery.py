"""Slot discovery's plan: which waiting tickets of a team get slots offered now.

Seed 001 Timeline 9: twice a day `pending_slot_discovery` tickets are evaluated "if there are
enough available schedule slots available in their support team". The rule: a team may have
as many customers invited (sent `schedule_invite`, not booked yet) as it has free places in
its open future slots; the oldest waiting tickets (by creation) fill the difference, the rest
wait for the next run.

One statement per team computes the plan from the ticket projection and the slots: free
places, tickets already invited, and the oldest waiting tickets up to the difference (a window
function numbers them), so 10,000 waiting tickets cost one indexed scan, not one query each.
A second, small query reads the offers, only for a team with someone to invite.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from domain.refresh import SlotOffer, Status
from domain.scheduled_jobs import DiscoveryPlan, TeamDiscoveryPlan
from store.slot_generation import team_ids
from store.tables import ScheduleSlot, Ticket


def _open_slots(team_id: str, now: datetime):
    return (
        ScheduleSlot.team_id == team_id,
        ScheduleSlot.deleted_at.is_(None),
        ScheduleSlot.start_at > now,
        ScheduleSlot.booked < ScheduleSlot.capacity,
    )


def plan_statement(team_id: str, now: datetime):
    """(free, invited, waiting, ticket_id) rows: one row per ticket to invite, oldest first,
    or a single row with ticket_id NULL when there is none."""
    free = (
        select(
            func.coalesce(func.sum(ScheduleSlot.capacity - ScheduleSlot.booked), 0).label("free")
        )
        .where(*_open_slots(team_id, now))
        .cte("free")
    )
    invited = (
        select(func.count().label("n"))
        .select_from(Ticket)
        .where(
            Ticket.support_team == team_id,
            Ticket.status == Status.pending_customer_scheduling.value,
            Ticket.slot_id.is_(None),
        )
        .cte("invited")
    )
    waiting = (
        select(
            Ticket.ticket_id,
            func.row_number().over(order_by=(Ticket.created_at, Ticket.ticket_id)).label("rn"),
        )
        .where(
            Ticket.support_team == team_id,
            Ticket.status == Status.pending_slot_discovery.value,
        )
        .cte("waiting")
    )
    waiting_n = select(func.count().label("n")).select_from(waiting).cte("waiting_n")
    return (
        select(free.c.free, invited.c.n, waiting_n.c.n, waiting.c.ticket_id)
        .select_from(
            free.join(invited, true())
            .join(waiting_n, true())
            .outerjoin(waiting, waiting.c.rn <= free.c.free - invited.c.n)
        )
        .order_by(waiting.c.rn)
    )


def offers(session: Session, team_id: str, now: datetime, limit: int = 200) -> list[SlotOffer]:
    """The team's bookable future slots, soonest first, as `slots_available` carries them."""
    rows = session.execute(
        select(
            ScheduleSlot.id,
            ScheduleSlot.start_at,
            ScheduleSlot.end_at,
            ScheduleSlot.location,
            ScheduleSlot.capacity - ScheduleSlot.booked,
        )
        .where(*_open_slots(team_id, now))
        .order_by(ScheduleSlot.start_at, ScheduleSlot.id)
        .limit(limit)
    ).all()
    return [
        SlotOffer(slot_id=i, start=start, end=end, location=location, free=free)
        for i, start, end, location, free in rows
    ]


def plan_team(
    session: Session, team_id: str, now: datetime, max_offers: int = 200
) -> TeamDiscoveryPlan:
    rows = session.execute(plan_statement(team_id, now)).all()
    free, invited, waiting = (int(x) for x in rows[0][:3])
    ticket_ids = [r[3] for r in rows if r[3] is not None]
    return TeamDiscoveryPlan(
        team_id=team_id,
        free_capacity=free,
        invited=invited,
        waiting=waiting,
        ticket_ids=ticket_ids,
        offers=offers(session, team_id, now, max_offers) if ticket_ids else [],
    )


def plan_discovery(
    session: Session,
    now: datetime,
    only: Iterable[str] | None = None,
    max_offers: int = 200,
) -> DiscoveryPlan:
    """The plan of every team (or `only` these), read in one transaction."""
    return DiscoveryPlan(
        teams=[plan_team(session, t, now, max_offers) for t in team_ids(session, only)]
    )
