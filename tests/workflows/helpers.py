"""Driving tickets through the public contract in tests: start input, messages, `state`."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from activities.ticket_starts import initial_search_attributes
from domain.refresh import RefreshTicketInput, Status, TicketState, UpdateAck, workflow_id
from domain.settings import Settings
from store.db import make_engine, session_factory
from store.tables import ScheduleSlot
from workflows.refresh_base import AFTER_REPLY

TZ = ZoneInfo("America/Detroit")


def local(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """An instant given as Detroit wall-clock time."""
    return datetime(y, m, d, h, mi, tzinfo=TZ)


def as_local(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(TZ)


async def move_clock_to(env: WorkflowEnvironment, when: datetime) -> None:
    """Skip the test server's clock to `when`. A starved test server may not answer the
    sleep within the RPC's deadline while its clock still moves: then what is left is
    asked for again, never the whole span twice."""
    now = await env.get_current_time()
    assert when > now, f"the test server's clock is already past {when}"
    while now < when:
        try:
            await env.sleep(when - now)
        except RPCError as e:
            if e.status not in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
                raise
        now = await env.get_current_time()


def ticket_input(
    style: str = "on_prem",
    config_id: str = "lsa-onprem",
    *,
    platform: str = "windows",
    delegate: dict[str, str] | None = None,
    replacement: dict[str, Any] | None = None,
    team: str = "nit-central",
    **extra: Any,
) -> RefreshTicketInput:
    tid = f"T{uuid4().hex[:10]}"
    return RefreshTicketInput.model_validate(
        {
            "ticket_id": tid,
            "config_id": config_id,
            "style": style,
            "bump_down": replacement is not None,
            "user": {"uniqname": "jdoe", "name": "Jane Doe", "email": "jdoe@example.edu"},
            "delegate": delegate,
            "existing_system": {
                "serial": f"OLD{tid[1:7].upper()}",
                "platform": platform,
                "model": "Dell Latitude 5420" if platform == "windows" else "MacBook Air 2020",
                "location": "Angell Hall, 2001",
            },
            "replacement_system": replacement,
            "support_team": team,
            "batch_id": None,
            **extra,
        }
    )


async def start(
    env: WorkflowEnvironment, settings: Settings, inp: RefreshTicketInput
) -> WorkflowHandle:
    return await env.client.start_workflow(
        "RefreshTicket",
        inp,
        id=workflow_id(inp.ticket_id),
        task_queue=settings.task_queue,
        search_attributes=initial_search_attributes(inp),
    )


TASK_IN_FLIGHT = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
}


async def history_events(handle: WorkflowHandle) -> list[HistoryEvent]:
    """The current run's events."""
    return [e async for e in handle.fetch_history_events()]


def task_in_flight(events: list[HistoryEvent]) -> bool:
    """Whether the run has a workflow task scheduled or started.

    The time-skipping test server never fills describe's `pending_workflow_task`; it writes
    the task's events at once, so the history's last event tells.
    """
    return bool(events) and events[-1].event_type in TASK_IN_FLIGHT


async def state(handle: WorkflowHandle) -> TicketState:
    """The `state` query, sent between workflow tasks.

    The time-skipping test server buffers a query that arrives while a workflow task is
    started. If that task continues the run as new, the server then schedules a task for the
    query on the closed run, fails the completion half-done ("workflow execution already
    completed", the new run already started, the old one's history stuck at
    WorkflowTaskStarted), and that query and every later one hang. A real server has no such
    buffer, so there the wait ends at once.
    """
    deadline = time.monotonic() + 5.0
    while task_in_flight(await history_events(handle)) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return await handle.query("state", result_type=TicketState)


async def ended(handle: WorkflowHandle) -> TicketState:
    """The ticket once its run has ended: the result names its end, the query tells all."""
    outcome = UpdateAck.model_validate(await handle.result())
    final = await state(handle)
    assert (outcome.ticket_id, outcome.status) == (final.ticket_id, final.status)
    return final


# Real seconds a ticket may take to get somewhere: activities run in real time, and on a
# loaded CI machine (four test processes, each with its servers) a TDX call retried after a
# slow answer alone waits its settle time (10 s).
PATIENCE = 30.0


async def until(handle: WorkflowHandle, check, what: str, timeout: float = PATIENCE) -> TicketState:
    """Poll `state` in real time until `check(state)`; activities run in real time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = await state(handle)
        except RPCError as e:  # a query the busy test server did not answer in time: ask again
            timed_out = e.status in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED)
            if not timed_out or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
            continue
        if check(s):
            return s
        if time.monotonic() > deadline:
            pending = await pending_activities(handle)
            raise AssertionError(
                f"timed out waiting for {what}; ticket is {s.status.value}; "
                f"pending activities: {pending}; state: {s}"
            )
        await asyncio.sleep(0.05)


async def pending_activities(handle: WorkflowHandle) -> list[str]:
    """What the ticket still waits on, for a timeout's message: each activity's attempt and
    last failure tell a slow machine from a stuck call."""
    described = await handle.describe()
    converter = handle._client.data_converter
    found = []
    for a in described.raw_description.pending_activities:
        failure = None
        if a.HasField("last_failure"):
            failure = await converter.decode_failure(a.last_failure)
        found.append(
            f"{a.activity_type.name} attempt {a.attempt} state {a.state} "
            f"started {a.last_started_time.ToJsonString()} last failure {failure!r}"
        )
    return found


async def reach(handle: WorkflowHandle, status: Status, timeout: float = PATIENCE) -> TicketState:
    return await until(handle, lambda s: s.status == status, status.value, timeout)


async def quiet(handle: WorkflowHandle, timeout: float = 15.0) -> None:
    """Wait until the workflow has nothing in flight: no workflow task, no first attempt,
    no projection waiting for the reply it follows.

    Then it waits on a message, a timer or a check that retries until the outside world
    changes (a serial not yet in TDX assets, a delivery not yet installed), and its `state`
    is the one it will keep until then.
    """
    deadline = time.monotonic() + timeout
    while True:
        raw = (await handle.describe()).raw_description
        first_attempts = [a for a in raw.pending_activities if a.attempt <= 1]
        if not (first_attempts or raw.HasField("pending_workflow_task")):
            events = await history_events(handle)
            if not task_in_flight(events) and not projection_waiting(events):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"workflow still busy: {raw.pending_activities}")
        await asyncio.sleep(0.02)


def projection_waiting(events: list[HistoryEvent]) -> bool:
    """Whether an update's projection still waits for its timer (`AFTER_REPLY`)."""
    started, ended = set(), set()
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            timeout = e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            if timeout == AFTER_REPLY:
                started.add(e.event_id)
        elif e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            ended.add(e.timer_fired_event_attributes.started_event_id)
        elif e.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            ended.add(e.timer_canceled_event_attributes.started_event_id)
    return bool(started - ended)


async def settle(handle: WorkflowHandle, status: Status) -> TicketState:
    """Reach `status` and wait until the workflow has finished the step's side effects."""
    await reach(handle, status)
    await quiet(handle)
    return await reach(handle, status)


def add_slot(
    settings: Settings, team: str, start_at: datetime, minutes: int = 60, capacity: int = 3
) -> int:
    with session_factory(make_engine(settings.database_url)).begin() as db:
        existing = db.scalar(
            select(ScheduleSlot).where(
                ScheduleSlot.team_id == team, ScheduleSlot.start_at == start_at
            )
        )
        if existing is not None:
            return existing.id
        slot = ScheduleSlot(
            team_id=team,
            start_at=start_at,
            end_at=start_at + timedelta(minutes=minutes),
            location="Central Depot",
            capacity=capacity,
            booked=0,
        )
        db.add(slot)
        db.flush()
        return slot.id


def offers(settings: Settings, *slot_ids: int) -> dict[str, Any]:
    with session_factory(make_engine(settings.database_url))() as db:
        rows = [db.get(ScheduleSlot, i) for i in slot_ids]
        return {
            "slots": [
                {
                    "slot_id": r.id,
                    "start": r.start_at,
                    "end": r.end_at,
                    "location": r.location,
                    "free": r.capacity - r.booked,
                }
                for r in rows
                if r is not None
            ]
        }


# ----- added for the rest of the RefreshTicket suite ----------------------------------------

HISTORIES = Path(__file__).parent / "histories"
SHIP_TO = {
    "name": "Jane Doe",
    "line1": "1200 Oak Street",
    "city": "Ann Arbor",
    "state": "MI",
    "postal_code": "48104",
}


def replacement(serial: str, platform: str = "windows", model: str | None = None) -> dict:
    """An `assign_replacement` / `exchange_replacement` system payload."""
    default = "Dell Latitude 7450" if platform == "windows" else "MacBook Pro 14 M4"
    return {"serial": serial, "platform": platform, "model": model or default}


async def sleep_until(
    env: WorkflowEnvironment, when: datetime, past: timedelta = timedelta(seconds=1)
) -> None:
    """Move the test server's clock to `past` after `when` (timers due at `when` fire)."""
    now = await env.get_current_time()
    assert when + past > now, f"the test server's clock is already past {when}"
    await env.sleep(when + past - now)


async def invited(env: WorkflowEnvironment, handle: WorkflowHandle) -> TicketState:
    """Let a new customer ticket set up, move to its invite time, and settle in pending_wizard."""
    s = await until(handle, lambda s: s.setup_done and s.next_wakeup, "setup")
    assert s.status == Status.pending_invite
    await sleep_until(env, s.next_wakeup)
    return await settle(handle, Status.pending_wizard)


def failure_text(err: BaseException) -> str:
    """Every message down a failure's cause chain (pydantic's lands in the cause)."""
    parts = []
    cur: BaseException | None = err
    while cur is not None:
        parts.append(str(cur))
        cur = getattr(cur, "cause", None) or cur.__cause__
    return " | ".join(parts)


def slot_booked(settings: Settings, slot_id: int) -> int:
    """`booked` of a row of table schedule_slot."""
    with session_factory(make_engine(settings.database_url))() as db:
        slot = db.get(ScheduleSlot, slot_id)
        assert slot is not None
        return slot.booked


def fill_slot(settings: Settings, slot_id: int) -> None:
    """Someone else took every place of a slot."""
    with session_factory(make_engine(settings.database_url)).begin() as db:
        slot = db.get(ScheduleSlot, slot_id)
        assert slot is not None
        slot.booked = slot.capacity


def emails_to(sim, ticket_id: str) -> list[tuple[str, list[str]]]:
    """(template, recipients) of every email a ticket sent, oldest first."""
    return [(m.template, sorted(m.envelope_to)) for m in reversed(sim.mail.find(ticket=ticket_id))]


async def save_history(handle: WorkflowHandle, name: str) -> None:
    """With REGENERATE_HISTORIES=1, store the handle's run history for tests/test_replay.py."""
    if os.environ.get("REGENERATE_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())


def sent(template: str, n: int = 1):
    """A `until` check: the ticket has logged `n` emails of `template`."""
    return lambda s: sum(e.template == template for e in s.emails) >= n


async def fires_at(
    env: WorkflowEnvironment, handle: WorkflowHandle, when: datetime, check, what: str
) -> TicketState:
    """`check` is false a minute before `when` and becomes true right after it."""
    await sleep_until(env, when, past=-timedelta(minutes=1))
    assert not check(await state(handle)), f"{what} happened before {when}"
    await sleep_until(env, when)
    return await until(handle, check, what)


async def on_prem_to_scheduling(
    env: WorkflowEnvironment,
    sim,
    settings: Settings,
    handle: WorkflowHandle,
    serial: str,
    slot_ids: list[int],
) -> TicketState:
    """A new lsa-onprem ticket, walked to pending_customer_scheduling with `slot_ids` offered:
    invite, wizard (same room), approval, replacement already in TDX, discovery."""
    await invited(env, handle)
    await handle.execute_update("submit_wizard", {"location": "Angell Hall, 2001"})
    await settle(handle, Status.pending_approval)
    await handle.execute_update("approve", {"approver": "appr1"})
    await settle(handle, Status.pending_ordering)
    sim.tdx.add_asset(serial)
    await handle.signal("assign_replacement", {"replacement": replacement(serial)})
    await settle(handle, Status.pending_slot_discovery)
    await handle.signal("slots_available", offers(settings, *slot_ids))
    return await settle(handle, Status.pending_customer_scheduling)


def fresh_slot(
    settings: Settings, team: str, start_at: datetime, minutes: int = 60, capacity: int = 3
) -> int:
    """A new, empty slot: the database is shared by the whole session, so a slot another
    test already made (and perhaps booked) at that time is an error, not a reuse."""
    slot_id = add_slot(settings, team, start_at, minutes, capacity)
    with session_factory(make_engine(settings.database_url))() as db:
        slot = db.get(ScheduleSlot, slot_id)
        assert slot is not None
        assert (slot.booked, slot.capacity) == (0, capacity), (
            f"slot at {start_at} was already made by another test; pick another time"
        )
    return slot_id
