"""After hours' rows: the `after_hours:` reference block and the night's cases (projection)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.after_hours import AfterHoursDesk, AfterHoursSpec, CaseState
from domain.holiday_dates import closed_dates_for
from store.tables import AfterHoursCase, AfterHoursConfig


class NoAfterHours(LookupError):
    """`deskflow load` has not been given an `after_hours:` block yet."""


def read_spec(db: Session) -> AfterHoursSpec:
    row = db.get(AfterHoursConfig, 1)
    if row is None:
        raise NoAfterHours("no after_hours block loaded: run `deskflow load` with one")
    return AfterHoursSpec.model_validate(row.spec)


def read_desk(db: Session, years: range, default_tz: str, itsm: str) -> AfterHoursDesk:
    """The spec with its zone (the block's, else the deployment's) and closed dates."""
    spec = read_spec(db)
    closed = closed_dates_for(spec.country_holidays, None, years, spec.closed_days)
    return AfterHoursDesk(spec=spec, timezone=spec.timezone or default_tz, closed=closed, itsm=itsm)


def project_case(db: Session, s: CaseState) -> None:
    """Upsert the case's row; an older revision arriving late (two projections of the case
    in flight at once) leaves the newer row alone. A first insert racing another one fails
    on the primary key and its activity retry finds the row."""
    values = {
        "partner": s.partner[:64],
        "status": s.status.value,
        "promise": s.promise.value,
        "opened_at": s.opened_at,
        "state": s.model_dump(mode="json"),
    }
    row = db.get(AfterHoursCase, s.case_id, with_for_update=True)
    if row is None:
        db.add(AfterHoursCase(case_id=s.case_id, **values))
    elif int(row.state.get("revision", -1)) < s.revision:
        for key, value in values.items():
            setattr(row, key, value)


def cases_between(db: Session, start: datetime, end: datetime) -> list[CaseState]:
    """The cases opened in [start, end), oldest first (the leads' night)."""
    q = (
        select(AfterHoursCase)
        .where(AfterHoursCase.opened_at >= start, AfterHoursCase.opened_at < end)
        .order_by(AfterHoursCase.opened_at)
    )
    return [CaseState.model_validate(r.state) for r in db.scalars(q)]


def case(db: Session, case_id: str) -> CaseState | None:
    row = db.get(AfterHoursCase, case_id)
    return None if row is None else CaseState.model_validate(row.state)
