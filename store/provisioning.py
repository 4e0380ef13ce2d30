"""Provisioning intake's rows: its reference data, the console projection, the encrypted
Exhibit A passwords (with reveal audits and key rotation) and the time entries of the gauge."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from domain.business_calendar import BusinessCalendar
from domain.holiday_dates import closed_dates_for
from domain.provisioning import (
    SECRET_FIELDS,
    ExhibitA,
    IntakeState,
    ProvisioningSpec,
    TimeRecord,
)
from domain.provisioning_gauge import Gauge, GaugeEntry, GaugeTicket, compute_gauge, month_bounds
from store import service_desk as desk_store
from store.secret_box import SecretBox
from store.tables import (
    Audit,
    CalendarConfig,
    ProvisioningConfig,
    ProvisioningSecret,
    ProvisioningTicket,
    ProvisioningTime,
)


class NoProvisioning(LookupError):
    """`deskflow load` has not been given a `provisioning:` block yet."""


def read_spec(db: Session) -> ProvisioningSpec:
    row = db.get(ProvisioningConfig, 1)
    if row is None:
        raise NoProvisioning("no provisioning block loaded: run `deskflow load` with one")
    return ProvisioningSpec.model_validate(row.spec)


def read_calendar(db: Session, years: range) -> BusinessCalendar:
    """The service desk's calendar if one is loaded, else the main calendar: provisioning
    works on a deployment that has no SLA desk configured."""
    try:
        return desk_store.read_service_desk(db, years).calendar
    except desk_store.NoServiceDesk:
        pass
    cfg = db.get(CalendarConfig, 1)
    if cfg is None:
        raise NoProvisioning("no calendar loaded: run `deskflow load` first")
    return BusinessCalendar(
        timezone=cfg.timezone,
        day_start=time.fromisoformat(cfg.business_start),
        day_end=time.fromisoformat(cfg.business_end),
        closed_dates=closed_dates_for(
            cfg.country_holidays,
            None,
            years,
            [date.fromisoformat(str(d)) for d in cfg.closed_days or []],
        ),
    )


def audit_ticket_id(halo_ticket_id: str) -> str:
    return f"provisioning-{halo_ticket_id}"


# ----- projection ----------------------------------------------------------------------------


def project(db: Session, s: IntakeState) -> None:
    """Upsert the console row (idempotent: the same state writes the same row)."""
    values: dict[str, Any] = {
        "status": s.status.value if s.status else "",
        "subcategory": s.subcategory.value if s.subcategory else None,
        "analyst": s.analyst[:64],
        "summary": s.summary[:500],
        "state": s.model_dump(mode="json"),
        "closed_at": s.closed_at,
        "updated_at": datetime.now(UTC),
    }
    row = db.get(ProvisioningTicket, s.halo_ticket_id)
    if row is None:
        db.add(ProvisioningTicket(halo_ticket_id=s.halo_ticket_id, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)


def tickets(db: Session, status: str | None = None, limit: int = 500) -> list[ProvisioningTicket]:
    q = select(ProvisioningTicket).order_by(ProvisioningTicket.updated_at.desc())
    if status:
        q = q.where(ProvisioningTicket.status == status)
    return list(db.scalars(q.limit(limit)))


def ticket(db: Session, halo_ticket_id: str) -> ProvisioningTicket | None:
    return db.get(ProvisioningTicket, halo_ticket_id)


# ----- secrets -----------------------------------------------------------------------------


def save_secrets(db: Session, box: SecretBox, halo_ticket_id: str, exhibit: ExhibitA) -> None:
    """Store both passwords encrypted (a second submission replaces the first)."""
    for field in SECRET_FIELDS:
        key_id, blob = box.seal(getattr(exhibit, field), f"{halo_ticket_id}:{field}")
        row = db.get(ProvisioningSecret, (halo_ticket_id, field))
        if row is None:
            db.add(
                ProvisioningSecret(
                    halo_ticket_id=halo_ticket_id, field=field, key_id=key_id, ciphertext=blob
                )
            )
        else:
            row.key_id, row.ciphertext = key_id, blob


def has_secrets(db: Session, halo_ticket_id: str) -> bool:
    found = db.scalar(
        select(func.count())
        .select_from(ProvisioningSecret)
        .where(ProvisioningSecret.halo_ticket_id == halo_ticket_id)
    )
    return bool(found)


def erase_secrets(db: Session, halo_ticket_id: str) -> int:
    result = db.execute(
        delete(ProvisioningSecret).where(ProvisioningSecret.halo_ticket_id == halo_ticket_id)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _audit(db: Session, ticket_id: str, actor: str, action: str, detail: dict[str, Any]) -> None:
    seq = db.scalar(select(func.max(Audit.seq)).where(Audit.ticket_id == ticket_id)) or 0
    db.add(
        Audit(
            ticket_id=ticket_id,
            seq=seq + 1,
            at=datetime.now(UTC),
            actor=actor,
            action=action,
            detail=detail,
        )
    )
    db.flush()


def reveal(db: Session, box: SecretBox, halo_ticket_id: str, field: str, actor: str) -> str | None:
    """The password (None once erased), with an audit row saying who saw which field."""
    if field not in SECRET_FIELDS:
        raise ValueError(f"field must be one of {', '.join(SECRET_FIELDS)}")
    row = db.get(ProvisioningSecret, (halo_ticket_id, field))
    found = row is not None
    _audit(
        db,
        audit_ticket_id(halo_ticket_id),
        actor,
        "password revealed" if found else "password reveal (none stored)",
        {"field": field},
    )
    if row is None:
        return None
    return box.open(row.key_id, row.ciphertext, f"{halo_ticket_id}:{field}")


def reveal_audits(db: Session, halo_ticket_id: str) -> list[Audit]:
    q = select(Audit).where(Audit.ticket_id == audit_ticket_id(halo_ticket_id))
    return list(db.scalars(q.order_by(Audit.seq)))


def rotate(db: Session, box: SecretBox) -> int:
    """Re-encrypt every secret not under the current key; how many were re-encrypted."""
    rows = db.scalars(select(ProvisioningSecret).where(ProvisioningSecret.key_id != box.current))
    n = 0
    for row in rows:
        context = f"{row.halo_ticket_id}:{row.field}"
        row.key_id, row.ciphertext = box.seal(
            box.open(row.key_id, row.ciphertext, context), context
        )
        n += 1
    return n


# ----- time entries and the gauge -------------------------------------------------------------


def record_time(db: Session, halo_ticket_id: str, e: TimeRecord) -> None:
    values = {
        "at": e.at,
        "analyst": e.analyst[:200],
        "hours": str(e.hours),
        "work_type": e.work_type[:200],
        "category8": e.category8,
        "flagged": e.flagged,
    }
    row = db.get(ProvisioningTime, (halo_ticket_id, e.id))
    if row is None:
        db.add(ProvisioningTime(halo_ticket_id=halo_ticket_id, entry_id=e.id, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)


def gauge(db: Session, month: str, tz: str, allowed: str) -> Gauge:
    start, end = month_bounds(month, tz)
    rows = list(
        db.scalars(
            select(ProvisioningTime).where(ProvisioningTime.at >= start, ProvisioningTime.at < end)
        )
    )
    ids = {r.halo_ticket_id for r in rows}
    infos = db.scalars(select(ProvisioningTicket).where(ProvisioningTicket.halo_ticket_id.in_(ids)))
    return compute_gauge(
        month,
        tz,
        [
            GaugeTicket(halo_ticket_id=t.halo_ticket_id, summary=t.summary, analyst=t.analyst)
            for t in infos
        ],
        [
            GaugeEntry(
                halo_ticket_id=r.halo_ticket_id,
                at=r.at,
                analyst=r.analyst,
                work_type=r.work_type,
                category8=r.category8,
            )
            for r in rows
        ],
        allowed,
    )
