"""Driving after-hours calls in tests: the intake, Temporal's clock, waiting on the case."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.after_hours import CaseState, workflow_id
from tests.itsm.helpers import follow_clock as follow_itsm_clock
from tests.itsm.helpers import until  # noqa: F401  (re-exported to the after-hours tests)
from tests.workflows.helpers import move_clock_to

TZ = ZoneInfo("America/Detroit")
KEYS = {
    "alice": "ALICE000000000000000000000000000",
    "bob": "BOB00000000000000000000000000000",
    "carol": "CAROL000000000000000000000000000",
    "dave": "DAVE0000000000000000000000000000",
    "erin": "ERIN0000000000000000000000000000",
    "frank": "FRANK000000000000000000000000000",
    "hannah": "HANNAH00000000000000000000000000",
    "jeff": "JEFF0000000000000000000000000000",
}
CALLER = "pat.caller@example.org"
AGENT = "agent.smith@example.org"


def local(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ)


def intake(case_id: str, partner: str = "fpm", **over: Any) -> dict[str, Any]:
    data = {
        "case_id": case_id,
        "partner": partner,
        "caller": {"name": "Pat Caller", "phone": "608-555-7777", "email": CALLER},
        "description": "The building automation workstation will not boot; HVAC alarms unseen.",
        "hd_solvable": False,
        "personal_computer": False,
        "critical": True,
        "emergency_judgement": "",
        "agent": {"name": "Agent Smith", "email": AGENT},
    }
    data.update(over)
    return data


async def move_to(env: WorkflowEnvironment, sim, when: datetime) -> None:
    await move_clock_to(env, when)
    await follow_clock(env, sim)


async def follow_clock(env: WorkflowEnvironment, sim) -> None:
    """The ITSM stand-ins and the paging stand-in stamp records with the test clock."""
    await follow_itsm_clock(env, sim)
    now = await env.get_current_time()
    sim.paging.clock = lambda: now


async def start(env: WorkflowEnvironment, task_queue: str, data: dict[str, Any]) -> WorkflowHandle:
    return await env.client.start_workflow(
        "AfterHoursEscalation",
        data,
        id=workflow_id(data["case_id"]),
        task_queue=task_queue,
        result_type=CaseState,
    )


async def case(handle: WorkflowHandle) -> CaseState:
    return await handle.query("state", result_type=CaseState)


async def case_until(handle: WorkflowHandle, check, what: str, timeout: float = 30.0) -> CaseState:
    return await until(lambda: case(handle), check, what, timeout)


def pages(sim) -> list[tuple[str, str]]:
    """(person, summary) of every phone the stand-in rang, in order."""
    by_key = {v: k for k, v in KEYS.items()}
    return [(by_key[p["routing_key"]], p["summary"]) for p in sim.paging.pages()]


def mail(sim, case_id: str) -> Counter[tuple[str, str]]:
    return Counter(
        (m.template, ",".join(sorted(m.envelope_to)))
        for m in sim.mail.find(ticket=workflow_id(case_id))
    )


async def settle(sim, case_id: str, expected: Counter, what: str) -> None:
    async def fetch():
        return mail(sim, case_id)

    await until(fetch, lambda got: got == expected, what)
    await asyncio.sleep(0.3)
    assert mail(sim, case_id) == expected, what


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def minute(moment: datetime) -> datetime:
    """An instant to the minute (activities take real milliseconds even on the test clock)."""
    return moment.replace(second=0, microsecond=0)


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


async def outcome(handle: WorkflowHandle) -> CaseState:
    """The case as it ended, once its workflow has run to completion.

    Never `result()`: waiting on it lets the time-skipping server jump ahead (years, with no
    timer left), which would move the next call of the test into another decade."""
    await until(
        lambda: handle.describe(), lambda d: d.status.name == "COMPLETED", "the case to end"
    )
    return await case(handle)
