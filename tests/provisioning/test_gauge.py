"""The work-type gauge from a month of generated provisioning tickets, checked against a
count made here independently; the console page, the metric and the monthly email agree."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import httpx

from domain.provisioning import (
    REPORT_WORKFLOW,
    IntakeState,
    ReportInput,
    Status,
    TimeRecord,
)
from domain.provisioning_gauge import Gauge
from store import provisioning as prov_store
from store.db import make_engine, session_factory
from tests.itsm.helpers import local, move_to
from tests.provisioning.test_web import bearer
from tests.workflows.helpers import save_history

ANALYSTS = ["alex", "blair", "chris", "dana"]
TYPES = ["Provisioning and Imaging"] * 6 + ["SD - Remote Support", "SD – Remote support – BH"]


def generate(db, rng: random.Random) -> list[dict]:
    """60 tickets with 0-4 time entries each, mostly in December 2026, some around it."""
    made = []
    for n in range(60):
        tid = str(5000 + n)
        analyst = rng.choice(ANALYSTS + [""])
        prov_store.project(
            db,
            IntakeState(
                halo_ticket_id=tid,
                status=Status.provisioning,
                summary=f"Laptop {n}",
                analyst=analyst,
            ),
        )
        entries = []
        for k in range(rng.randint(0, 4)):
            at = local(2026, 11, 28) + timedelta(hours=rng.randint(0, 24 * 38))
            entry = TimeRecord(
                id=str(k + 1),
                at=at,
                analyst=rng.choice(ANALYSTS),
                hours=Decimal("1.5"),
                work_type=rng.choice(TYPES),
                category8=rng.random() > 0.1,
            )
            prov_store.record_time(db, tid, entry)
            entries.append(entry)
        made.append({"id": tid, "analyst": analyst, "entries": entries})
    return made


def count(made: list[dict]) -> tuple[int, int, dict[str, tuple[int, int]], set[str]]:
    """Independently: (compliant, total, per analyst, offenders) for December 2026 (Detroit)."""
    start, end = local(2026, 12, 1), local(2027, 1, 1)
    compliant = total = 0
    per: dict[str, list[int]] = {}
    offenders = set()
    for t in made:
        mine = sorted(
            (e for e in t["entries"] if e.category8 and start <= e.at < end), key=lambda e: e.at
        )
        if not mine:
            continue
        ok = all(e.work_type == "Provisioning and Imaging" for e in mine)
        who = t["analyst"] or mine[0].analyst
        total += 1
        compliant += ok
        c = per.setdefault(who, [0, 0])
        c[0] += ok
        c[1] += 1
        if not ok:
            offenders.add(t["id"])
    return compliant, total, {a: (c[0], c[1]) for a, c in per.items()}, offenders


async def test_gauge_matches_an_independent_count(env, halo, sim, settings, worker):
    rng = random.Random(20261201)
    sessions = session_factory(make_engine(settings.database_url))
    with sessions.begin() as db:
        made = generate(db, rng)
    compliant, total, per, offenders = count(made)
    assert 0 < compliant < total, "the generated month has both kinds"

    with sessions() as db:
        gauge = prov_store.gauge(db, "2026-12", "America/Detroit", "Provisioning and Imaging")
    assert (gauge.overall.compliant, gauge.overall.total) == (compliant, total)
    assert {a: (s.compliant, s.total) for a, s in gauge.analysts.items()} == per
    assert {o.halo_ticket_id for o in gauge.offenders} == offenders
    assert gauge.overall.percent == round(100 * compliant / total, 1)
    assert [w.start.isoformat() for w in gauge.weeks][:2] == ["2026-11-30", "2026-12-07"]
    assert sum(w.share.total for w in gauge.weeks) >= total

    # The console page and the metric show the same figures.
    async with httpx.AsyncClient(base_url=halo) as http:
        morgan = await bearer(http, "morgan")
        metric = (
            await http.get("/api/provisioning/compliance?month=2026-12", headers=morgan)
        ).json()
        assert metric["metric"]["percent"] == gauge.overall.percent
        page = await http.get("/provisioning/compliance?month=2026-12", headers=morgan)
        assert f"{gauge.overall.percent} %" in page.text
        for tid in offenders:
            assert f'href="/provisioning/{tid}"' in page.text

    # The monthly email, on the first business day (Monday January 4: the 1st is a holiday);
    # run again for the same month, it is not sent twice.
    await move_to(env, sim, local(2027, 1, 4, 7))
    for inp in (ReportInput(), ReportInput(month="2026-12")):
        with env.auto_time_skipping_disabled():
            run = await env.client.execute_workflow(
                REPORT_WORKFLOW,
                inp,
                id=f"report-{inp.month}",
                task_queue=worker.task_queue,
                result_type=Gauge,
            )
        assert run is not None and run.month == "2026-12"
        assert run.overall == gauge.overall
    await save_history(env.client.get_workflow_handle("report-None"), "provisioning_report")
    [mail] = sim.mail.find(template="provisioning_compliance")
    assert mail.envelope_to == ["morgan.manager@example.org"]
    assert f"{gauge.overall.percent} %" in mail.subject
    for tid in offenders:
        assert f"/provisioning/{tid}" in mail.text


def test_the_report_goes_out_on_the_first_business_day_only():
    from datetime import date

    from domain.business_calendar import BusinessCalendar
    from domain.holiday_dates import closed_dates_for
    from domain.provisioning_gauge import report_month

    cal = BusinessCalendar(closed_dates=closed_dates_for("US", None, range(2026, 2028), []))
    assert report_month(cal, date(2027, 1, 1), None) is None  # New Year's Day
    assert report_month(cal, date(2027, 1, 4), None) == "2026-12"
    assert report_month(cal, date(2027, 1, 5), None) is None
    assert report_month(cal, date(2026, 12, 1), None) == "2026-11"  # a Tuesday
    assert report_month(cal, date(2026, 11, 2), None) == "2026-10"  # the 1st is a Sunday
    assert report_month(cal, date(2026, 11, 1), None) is None
    assert report_month(cal, date(2027, 1, 9), "2026-06") == "2026-06"
