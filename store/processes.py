"""Outage and triage rows: their reference data blocks and the projections pages read.

The workflows are the source of truth; these rows are written by idempotent activities
(the same state writes the same row) so the public outage page and the staff console list
outages and today's triage decisions without asking Temporal.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.outages import PUBLIC, OutageProjection, OutagesSpec
from domain.partner_triage import PartnerTriageSpec, TriageRecord
from store.tables import OutageRow, ProcessConfig, TriageDecisionRow


class NoProcessConfig(LookupError):
    """`deskflow load` has not been given this process's block yet."""


def read_outages_spec(db: Session) -> OutagesSpec:
    row = db.get(ProcessConfig, "outages")
    if row is None:
        raise NoProcessConfig("no outages block loaded: run `deskflow load` with one")
    return OutagesSpec.model_validate(row.spec)


def read_triage_spec(db: Session) -> PartnerTriageSpec:
    row = db.get(ProcessConfig, "partner_triage")
    if row is None:
        raise NoProcessConfig("no partner_triage block loaded: run `deskflow load` with one")
    return PartnerTriageSpec.model_validate(row.spec)


def project_outage(db: Session, p: OutageProjection) -> None:
    values = p.model_dump(exclude={"outage_id"})
    values["status"] = p.status.value
    row = db.get(OutageRow, p.outage_id)
    if row is None:
        db.add(OutageRow(outage_id=p.outage_id, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)


def public_outages(db: Session) -> list[OutageRow]:
    """Confirmed outages in progress, newest first (the public page)."""
    rows = db.scalars(
        select(OutageRow).where(OutageRow.status.in_([s.value for s in PUBLIC]))
    ).all()
    return sorted(rows, key=lambda r: r.confirmed_at or r.updated_at, reverse=True)


def all_outages(db: Session, limit: int = 200) -> list[OutageRow]:
    rows = db.scalars(select(OutageRow).order_by(OutageRow.updated_at.desc()).limit(limit))
    return list(rows)


def project_triage(db: Session, r: TriageRecord, decided_at: datetime) -> None:
    values = {
        "summary": r.summary[:500],
        "department": r.department[:500],
        "outcome": r.outcome,
        "group": r.group,
        "partner_id": r.partner_id,
        "rule_id": r.rule_id,
        "rule": r.rule,
        "flags": list(r.flags),
        "reassignments": r.reassignments,
    }
    row = db.get(TriageDecisionRow, (r.itsm, r.ticket_id))
    if row is None:
        db.add(
            TriageDecisionRow(itsm=r.itsm, ticket_id=r.ticket_id, decided_at=decided_at, **values)
        )
    else:
        for key, value in values.items():
            setattr(row, key, value)


def triage_since(db: Session, since: datetime) -> list[TriageDecisionRow]:
    rows = db.scalars(
        select(TriageDecisionRow)
        .where(TriageDecisionRow.decided_at >= since)
        .order_by(TriageDecisionRow.decided_at.desc())
    )
    return list(rows)


def start_of_day(now: datetime, tz: tzinfo) -> datetime:
    """Midnight of `now`'s day in `tz`, as UTC (where "today" starts on the console)."""
    local = now.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
