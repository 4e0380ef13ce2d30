"""The service desk's rows: its reference data, the SLA console projection, webhook
deliveries already taken in, and the catch-up watermark."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.business_calendar import BusinessCalendar
from domain.desk_messages import SlaProjection
from domain.holiday_dates import closed_dates_for
from domain.service_desk import ServiceDesk, ServiceDeskSpec
from store.tables import (
    CalendarConfig,
    ItsmDelivery,
    ItsmWatermark,
    ServiceDeskConfig,
    SlaClockRow,
)


class NoServiceDesk(LookupError):
    """`deskflow load` has not been given a `service_desk:` block yet."""


def read_service_desk(db: Session, years: range) -> ServiceDesk:
    """The desk's spec and its calendar (own block, else the main calendar) for `years`."""
    row = db.get(ServiceDeskConfig, 1)
    if row is None:
        raise NoServiceDesk("no service_desk block loaded: run `deskflow load` with one")
    spec = ServiceDeskSpec.model_validate(row.spec)
    block = spec.calendar
    if block is not None:
        tz, country = block.timezone, block.country_holidays
        start, end = block.business_hours["start"], block.business_hours["end"]
        extra = list(block.closed_days)
    else:
        cfg = db.get(CalendarConfig, 1)
        if cfg is None:
            raise NoServiceDesk("no calendar loaded: run `deskflow load` first")
        tz, country = cfg.timezone, cfg.country_holidays
        start, end = cfg.business_start, cfg.business_end
        extra = [date.fromisoformat(str(d)) for d in cfg.closed_days or []]
    calendar = BusinessCalendar(
        timezone=tz,
        day_start=time.fromisoformat(start),
        day_end=time.fromisoformat(end),
        closed_dates=closed_dates_for(country, None, years, extra),
    )
    return ServiceDesk(spec=spec, calendar=calendar)


def _seconds(value: Any) -> int | None:
    return None if value is None else int(value.total_seconds())


def project_sla(db: Session, p: SlaProjection) -> None:
    """Upsert the console row of one clock (idempotent: the same state writes the same row)."""
    c = p.clock
    values = {
        "summary": c.summary[:500],
        "team": c.team[:200],
        "priority": c.priority[:20],
        "status": c.status.value,
        "state": c.state.value,
        "due_at": p.due_at,
        "response_due": c.response_due,
        "resolution_due": c.resolution_due,
        "response_left_s": _seconds(c.response_left) if c.responded_at is None else None,
        "resolution_left_s": _seconds(c.resolution_left),
        "responded_at": c.responded_at,
        "opened_at": c.opened_at,
        "updated_at": datetime.now(UTC),
    }
    row = db.get(SlaClockRow, (c.itsm, c.ticket_id))
    if row is None:
        db.add(SlaClockRow(itsm=c.itsm, ticket_id=c.ticket_id, **values))
    else:
        for key, value in values.items():
            setattr(row, key, value)


def sla_rows(db: Session, state: str | None = None, limit: int = 500) -> list[SlaClockRow]:
    """Clocks for the console: soonest due first, then the rest (paused, met) newest first."""
    q = select(SlaClockRow)
    if state:
        q = q.where(SlaClockRow.state == state)
    rows = list(db.scalars(q.limit(limit)))
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda r: (r.due_at or far, r.ticket_id))


def claim_delivery(db: Session, itsm: str, delivery_id: str, ticket_id: str) -> bool:
    """True the first time a delivery is seen; False for a repeat (nothing to do again)."""
    try:
        with db.begin_nested():
            db.add(ItsmDelivery(itsm=itsm, delivery_id=delivery_id, ticket_id=ticket_id))
    except IntegrityError:
        return False
    return True


def forget_delivery(db: Session, itsm: str, delivery_id: str) -> None:
    """Undo a claim whose signal failed, so the product's retry is taken in."""
    row = db.scalar(
        select(ItsmDelivery).where(
            ItsmDelivery.itsm == itsm, ItsmDelivery.delivery_id == delivery_id
        )
    )
    if row is not None:
        db.delete(row)


def watermark(db: Session, itsm: str) -> datetime | None:
    row = db.get(ItsmWatermark, itsm)
    return None if row is None else row.watermark


def set_watermark(db: Session, itsm: str, at: datetime) -> None:
    row = db.get(ItsmWatermark, itsm)
    if row is None:
        db.add(ItsmWatermark(itsm=itsm, watermark=at))
    elif at > row.watermark:
        row.watermark = at
