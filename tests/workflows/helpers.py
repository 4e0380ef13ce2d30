"""Driving tickets through the public contract in tests: start input, messages, `state`."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import select
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.ticket_starts import initial_search_attributes
from domain.refresh import RefreshTicketInput, Status, TicketState, workflow_id
from domain.settings import Settings
from store.db import make_engine, session_factory
from store.tables import ScheduleSlot

TZ = ZoneInfo("America/Detroit")


def local(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    """An instant given as Detroit wall-clock time."""
    return datetime(y, m, d, h, mi, tzinfo=TZ)


def as_local(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(TZ)


async def move_clock_to(env: WorkflowEnvironment, when: datetime) -> None:
    now = await env.get_current_time()
    assert when > now, f"the test server's clock is already past {when}"
    await env.sleep(when - now)


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


async def state(handle: WorkflowHandle) -> TicketState:
    return await handle.query("state", result_type=TicketState)


async def until(handle: WorkflowHandle, check, what: str, timeout: float = 15.0) -> TicketState:
    """Poll `state` in real time until `check(state)`; activities run in real time."""
    deadline = time.monotonic() + timeout
    while True:
        s = await state(handle)
        if check(s):
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; ticket is {s.status.value}: {s}")
        await asyncio.sleep(0.05)


async def reach(handle: WorkflowHandle, status: Status, timeout: float = 15.0) -> TicketState:
    return await until(handle, lambda s: s.status == status, status.value, timeout)


async def settle(handle: WorkflowHandle, status: Status) -> TicketState:
    """Reach `status` and let the workflow finish the step's side effects."""
    await reach(handle, status)
    await asyncio.sleep(0.3)
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
