"""SLA figures of `deskflow bench`: 10,000 open SLA clocks on one worker, and due-time maths.

* `bench_sla_math`: due instants per second with the interval arithmetic of `domain.sla`,
  against a minute-by-minute walk (the way a desk that counts minutes would do it), measured
  in the same run: the ratio is how many times faster the interval sums are.
* `bench_sla_clocks`: on the running dev server, one in-process worker with the real
  `SlaClock` code opens `n` clocks by signal-with-start (as webhooks do) and keeps them all
  cached; figures are the start rate as a ratio to empty workflows started on the same
  server, the time until every clock has run its first turn, the process's RSS with all of
  them open, and how late their timers fire while the rest stay open. The ITSM, Slack and
  email activities are stand-ins that only record when they ran, so the figures are those of
  the clocks and the worker, not of the ITSM.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from statistics import median, quantiles
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from domain.activity_requests import EmailRequest, EmailResult, SlackRequest
from domain.business_calendar import BusinessCalendar
from domain.desk_dispatch import SIGNAL
from domain.desk_messages import ItsmAddNote, ItsmUpdate, LoadDesk, SlaProjection
from domain.itsm import ItsmEvent, Note, Person, ServiceDeskTicket, TicketAction
from domain.service_desk import ServiceDesk, ServiceDeskSpec
from domain.sla import Pause, due_instant
from domain.sla_clock import SlaClockInput, workflow_id
from workflows.sla_clock import SlaClock

CONCURRENCY = 64
TIMED = 200  # clocks whose first warning falls within a minute, timed under load


def _rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench_sla_math(n: int = 2000) -> dict[str, float]:
    """Due instants per second: interval sums vs a minute-by-minute walk (same inputs)."""
    cal = BusinessCalendar(
        timezone="America/Detroit",
        day_start=dtime(8),
        day_end=dtime(17),
        closed_dates=frozenset({date(2026, 12, 25), date(2027, 1, 1)}),
    )
    tz = ZoneInfo("America/Detroit")
    opened = [datetime(2026, 12, 1 + i % 20, 8 + i % 9, i % 60, tzinfo=tz) for i in range(n)]
    pauses = [[Pause(start=o + timedelta(hours=2), end=o + timedelta(hours=30))] for o in opened]
    target = timedelta(hours=27)  # three working days

    began = time.perf_counter()
    for o, p in zip(opened, pauses, strict=True):
        due_instant(cal, o, p, target, o + timedelta(hours=31))
    interval = n / (time.perf_counter() - began)

    def minute_walk(o: datetime, p: list[Pause]) -> datetime:
        t, left, step = o, target, timedelta(minutes=1)
        while left > timedelta(0):
            paused = any(x.start <= t < (x.end or t + step) for x in p)
            if not paused and cal.is_business_hours(t):
                left -= step
            t += step
        return t

    k = max(n // 50, 10)
    began = time.perf_counter()
    for o, p in zip(opened[:k], pauses[:k], strict=True):
        minute_walk(o, p)
    walk = k / (time.perf_counter() - began)
    return {
        "sla_due_per_s": interval,
        "sla_due_minute_walk_per_s": walk,
        "sla_due_ratio": interval / walk,
    }


def _open_calendar(now: datetime) -> BusinessCalendar | None:
    """A calendar open all day in a zone where `now` is a weekday, so timers fire now."""
    for hours in range(-12, 15):
        key = f"Etc/GMT{'+' if hours <= 0 else '-'}{abs(hours)}"
        local = now.astimezone(ZoneInfo(key))
        if local.weekday() < 5 and dtime(0, 30) < local.time() < dtime(22):
            return BusinessCalendar(timezone=key, day_start=dtime(0), day_end=dtime(23, 59))
    return None


class _Stand:
    """The activities SlaClock calls, recording when the telling ones ran."""

    def __init__(self, desk: ServiceDesk) -> None:
        self.desk = desk
        self.projected: set[str] = set()
        self.told: dict[str, datetime] = {}

    @activity.defn(name="itsm_load_desk")
    async def load_desk(self, req: LoadDesk) -> ServiceDesk:
        return self.desk

    @activity.defn(name="itsm_update_ticket")
    async def update(self, req: ItsmUpdate) -> ServiceDeskTicket:
        now = datetime.now(UTC)
        return ServiceDeskTicket(
            itsm=req.itsm, id=req.change.ticket_id, opened_at=now, updated_at=now
        )

    @activity.defn(name="itsm_add_note")
    async def note(self, req: ItsmAddNote) -> Note:
        return Note(text=req.note.text)

    @activity.defn(name="project_sla_clock")
    async def project(self, req: SlaProjection) -> None:
        self.projected.add(req.clock.ticket_id)

    @activity.defn(name="post_slack")
    async def slack(self, req: SlackRequest) -> None:
        self.told.setdefault(req.ticket_id.removeprefix("halo-"), datetime.now(UTC))

    @activity.defn(name="send_email")
    async def email(self, req: EmailRequest) -> EmailResult:
        return EmailResult(
            to=req.to or "", sent_at=datetime.now(UTC), message_id="b", already_sent=False
        )


def _event(tid: str, opened: datetime, priority: str) -> ItsmEvent:
    ticket = ServiceDeskTicket(
        itsm="halo",
        id=tid,
        summary=f"bench {tid}",
        priority=priority,
        team="Bench",
        opened_at=opened,
        updated_at=opened,
        user=Person(name="B", email="b@example.org"),
    )
    return ItsmEvent(
        itsm="halo",
        delivery_id=f"bench-{tid}",
        ticket=ticket,
        action=TicketAction(id="1", kind="created", at=opened),
    )


async def _start_all(
    client: Client, queue: str, items: list[tuple[str, datetime]], priority: str
) -> float:
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(tid: str, opened: datetime) -> None:
        async with sem:
            await client.start_workflow(
                "SlaClock",
                SlaClockInput(itsm="halo", ticket_id=tid),
                id=workflow_id("halo", tid),
                task_queue=queue,
                start_signal=SIGNAL,
                start_signal_args=[_event(tid, opened, priority)],
            )

    began = time.perf_counter()
    await asyncio.gather(*(one(t, o) for t, o in items))
    return time.perf_counter() - began


@workflow.defn(name="BenchEmptySla", sandboxed=False)
class _Empty:
    @workflow.run
    async def run(self) -> None:
        return None


async def bench_sla_clocks(client: Client, n: int = 10_000) -> dict[str, Any]:
    now = datetime.now(UTC)
    cal = _open_calendar(now)
    if cal is None:
        print("sla clocks: skipped, it is the weekend in every time zone right now")
        return {}
    spec = ServiceDeskSpec.model_validate(
        {
            "teams": [
                {
                    "id": "bench",
                    "name": "Bench",
                    "itsm_team": "Bench",
                    "slack_channel": "#bench",
                    "technicians": [{"name": "T", "email": "t@example.org"}],
                }
            ],
            "sla_policies": [
                {
                    "id": "p",
                    "priorities": {
                        "3": {"response": "30m", "resolution": "3d"},
                        "4": {"response": "3d", "resolution": "5d"},
                    },
                }
            ],
            "routing_rules": [{"team": "bench"}],
            "warn_at_percent": [50],
        }
    )
    stand = _Stand(ServiceDesk(spec=spec, calendar=cal))
    run = uuid4().hex[:6]
    queue = f"bench-sla-{run}"
    rss_before = _rss_mib()
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[SlaClock, _Empty],
        activities=[
            stand.load_desk,
            stand.update,
            stand.note,
            stand.project,
            stand.slack,
            stand.email,
        ],
        max_cached_workflows=n + TIMED + 100,
        max_concurrent_workflow_tasks=200,
    )
    async with worker:
        began = time.perf_counter()
        sem = asyncio.Semaphore(CONCURRENCY)

        async def empty(i: int) -> None:
            async with sem:
                await client.start_workflow("BenchEmptySla", id=f"e-{run}-{i}", task_queue=queue)

        await asyncio.gather(*(empty(i) for i in range(1000)))
        empty_rate = 1000 / (time.perf_counter() - began)

        # The open clocks: their first warning is a day and a half of working time away.
        opened = datetime.now(UTC)
        items = [(f"{run}-{i}", opened) for i in range(n)]
        seconds = await _start_all(client, queue, items, priority="4")
        while len(stand.projected) < n:
            await asyncio.sleep(0.5)
        all_running = time.perf_counter() - began - 1000 / empty_rate
        rss_open = _rss_mib()

        # Under that load: clocks whose 50 % response warning (15 min) falls in a minute that
        # starts once they can all be running (twice the time the open ones needed per clock).
        ramp = 2 * TIMED * all_running / n
        base = datetime.now(UTC) + timedelta(seconds=30 + ramp)
        due = {f"{run}-t{i}": base + timedelta(seconds=60 * i / TIMED) for i in range(TIMED)}
        timed = [(t, d - timedelta(minutes=15)) for t, d in due.items()]
        await _start_all(client, queue, timed, priority="3")
        deadline = time.monotonic() + 180 + ramp
        while len([t for t in due if t in stand.told]) < TIMED and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        late = sorted(
            (stand.told[t] - d).total_seconds() for t, d in due.items() if t in stand.told
        )
    return {
        "sla_clocks_open": n,
        "sla_clock_starts_per_s": n / seconds,
        "sla_clock_start_ratio_to_empty": (n / seconds) / empty_rate,
        "sla_clocks_all_running_s": all_running,
        "sla_worker_rss_mib_before": rss_before,
        "sla_worker_rss_mib_open": rss_open,
        "sla_worker_kib_per_clock": (rss_open - rss_before) * 1024 / n,
        "sla_timers_fired": len(late),
        "sla_timer_late_p50_s": median(late) if late else float("nan"),
        "sla_timer_late_p95_s": quantiles(late, n=20)[-1] if len(late) > 1 else float("nan"),
        "sla_timer_late_max_s": late[-1] if late else float("nan"),
    }
