"""The seed's SD-dashboard gauge: how much provisioning time is booked right, this month.

For a month (in the desk's time zone), a provisioning ticket counts if it has time on it
while in category 8 in that month; it is compliant if all that time is "Provisioning and
Imaging". The gauge is the share of compliant tickets, per analyst (the ticket's assigned
analyst, else whoever logged its first entry) and overall, with the offending tickets listed
and the same share week by week (weeks start on Monday). One pure function feeds the staff
console, the JSON metric and the monthly email, so they always agree.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.business_calendar import BusinessCalendar
from domain.provisioning import PROVISIONING_WORK_TYPE, is_provisioning_type


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GaugeTicket(_Model):
    halo_ticket_id: str
    summary: str = ""
    analyst: str = ""


class GaugeEntry(_Model):
    halo_ticket_id: str
    at: datetime
    analyst: str = ""
    work_type: str
    category8: bool = True


class Share(_Model):
    compliant: int = 0
    total: int = 0

    @property
    def percent(self) -> float | None:
        return None if self.total == 0 else round(100 * self.compliant / self.total, 1)


class Offender(_Model):
    halo_ticket_id: str
    summary: str
    analyst: str
    wrong_work_types: list[str]


class Week(_Model):
    start: date
    share: Share


class Gauge(_Model):
    month: str
    overall: Share
    analysts: dict[str, Share] = Field(default_factory=dict)
    weeks: list[Week] = Field(default_factory=list)
    offenders: list[Offender] = Field(default_factory=list)

    def as_metric(self) -> dict[str, object]:
        """The figures as plain numbers, for an exporter (percent is None with no tickets)."""
        return {
            "month": self.month,
            "percent": self.overall.percent,
            "compliant": self.overall.compliant,
            "total": self.overall.total,
            "analysts": {
                a: {"percent": s.percent, "compliant": s.compliant, "total": s.total}
                for a, s in self.analysts.items()
            },
        }


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a "YYYY-MM" month in the zone, as aware instants."""
    year, mon = (int(p) for p in month.split("-"))
    zone = ZoneInfo(tz)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    return start, end


def previous_month(day: date) -> str:
    first = day.replace(day=1) - timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def _share(entries_by_ticket: dict[str, list[GaugeEntry]], allowed: str) -> tuple[Share, set[str]]:
    bad = {
        tid
        for tid, entries in entries_by_ticket.items()
        if not all(is_provisioning_type(e.work_type, allowed) for e in entries)
    }
    total = len(entries_by_ticket)
    return Share(compliant=total - len(bad), total=total), bad


def compute_gauge(
    month: str,
    tz: str,
    tickets: list[GaugeTicket],
    entries: list[GaugeEntry],
    allowed: str = PROVISIONING_WORK_TYPE,
) -> Gauge:
    start, end = month_bounds(month, tz)
    zone = ZoneInfo(tz)
    info = {t.halo_ticket_id: t for t in tickets}
    in_month: dict[str, list[GaugeEntry]] = defaultdict(list)
    for e in sorted(entries, key=lambda e: e.at):
        if e.category8 and start <= e.at < end:
            in_month[e.halo_ticket_id].append(e)
    overall, bad = _share(in_month, allowed)

    def analyst_of(tid: str) -> str:
        assigned = info[tid].analyst if tid in info else ""
        return assigned or in_month[tid][0].analyst or "(unassigned)"

    by_analyst: dict[str, dict[str, list[GaugeEntry]]] = defaultdict(dict)
    for tid, items in in_month.items():
        by_analyst[analyst_of(tid)][tid] = items
    analysts = {a: _share(group, allowed)[0] for a, group in sorted(by_analyst.items())}

    weeks: list[Week] = []
    first = start.date() - timedelta(days=start.date().weekday())
    monday = first
    while datetime(monday.year, monday.month, monday.day, tzinfo=zone) < end:
        week: dict[str, list[GaugeEntry]] = defaultdict(list)
        for tid, items in in_month.items():
            for e in items:
                if monday <= e.at.astimezone(zone).date() < monday + timedelta(days=7):
                    week[tid].append(e)
        weeks.append(Week(start=monday, share=_share(week, allowed)[0]))
        monday += timedelta(days=7)

    offenders = [
        Offender(
            halo_ticket_id=tid,
            summary=info[tid].summary if tid in info else "",
            analyst=analyst_of(tid),
            wrong_work_types=sorted(
                {
                    e.work_type
                    for e in in_month[tid]
                    if not is_provisioning_type(e.work_type, allowed)
                }
            ),
        )
        for tid in sorted(bad, key=lambda t: (len(t), t))
    ]
    return Gauge(month=month, overall=overall, analysts=analysts, weeks=weeks, offenders=offenders)


def first_business_day(calendar: BusinessCalendar, year: int, month: int) -> date:
    """The month's first business day (the gauge email goes out that morning)."""
    first = date(year, month, 1)
    return first if calendar.is_business_day(first) else calendar.next_business_day(first)


def report_month(calendar: BusinessCalendar, today: date, forced: str | None) -> str | None:
    """Which month the monthly email reports today: `forced`, else last month on the
    month's first business day, else none (the schedule also fires on days 2-7)."""
    if forced is not None:
        return forced
    if today != first_business_day(calendar, today.year, today.month):
        return None
    return previous_month(today)
