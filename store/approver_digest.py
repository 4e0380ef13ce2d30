"""What each approver's Friday digest lists (seed 001 "Approvers").

"Approvers are emailed every Friday morning with a status report of all of the refresh
tickets they are Approvers for." An approver is named on refresh configs (by uniqname); the
tickets are those of these configs in the ticket projection: every open ticket, plus the ones
that completed or were cancelled during the past week, grouped by status with
`pending_approval` first (what needs them), then in lifecycle order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from domain.refresh import TERMINAL, Status
from domain.scheduled_jobs import DigestRecipient
from store.tables import RefreshConfig, Ticket

STATUS_ORDER = [Status.pending_approval, *(s for s in Status if s != Status.pending_approval)]


def status_rank(status: str) -> int:
    try:
        return STATUS_ORDER.index(Status(status))
    except ValueError:
        return len(STATUS_ORDER)


@dataclass
class Approver:
    uniqname: str
    name: str
    email: str
    config_ids: list[str] = field(default_factory=list)


def approvers(session: Session, only: Iterable[str] | None = None) -> dict[str, Approver]:
    """Every approver named on a config, by lowercased uniqname, with their configs."""
    wanted = None if only is None else {u.lower() for u in only}
    found: dict[str, Approver] = {}
    for config_id, named in session.execute(
        select(RefreshConfig.id, RefreshConfig.approvers).order_by(RefreshConfig.id)
    ):
        for a in named or []:
            key = str(a.get("uniqname", "")).lower()
            if not key or not a.get("email") or (wanted is not None and key not in wanted):
                continue
            entry = found.setdefault(
                key, Approver(uniqname=key, name=a.get("name") or key, email=a["email"])
            )
            entry.config_ids.append(config_id)
    return found


def _tickets_query(config_ids: list[str], since: datetime):
    return select(Ticket).where(
        Ticket.config_id.in_(config_ids),
        or_(Ticket.status.not_in([s.value for s in TERMINAL]), Ticket.updated_at >= since),
    )


def tickets_for(session: Session, approver: Approver, since: datetime) -> list[Ticket]:
    """The approver's tickets, pending_approval first, then lifecycle order, then age."""
    if not approver.config_ids:
        return []
    rows = list(session.scalars(_tickets_query(approver.config_ids, since)))
    rows.sort(key=lambda t: (status_rank(t.status), t.created_at, t.ticket_id))
    return rows


def recipients(
    session: Session, since: datetime, only: Iterable[str] | None = None
) -> list[DigestRecipient]:
    """Approvers with something to report (at least one ticket), by uniqname."""
    out = []
    for a in approvers(session, only).values():
        n = len(tickets_for(session, a, since))
        if n:
            out.append(DigestRecipient(uniqname=a.uniqname, name=a.name, email=a.email, tickets=n))
    return sorted(out, key=lambda r: r.uniqname)
