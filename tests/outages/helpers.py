"""Driving outages in tests: the operations the console, API and CLI use, and what the
ServiceNow and Halo stand-ins hold afterwards."""

from __future__ import annotations

from collections import Counter
from typing import Any

from operations import outages as ops
from tests.itsm.helpers import until


async def act(env, worker, outage_id: str, name: str, itsm: str = "servicenow", **data: Any):
    return await ops.outage_update(env.client, worker.task_queue, itsm, outage_id, name, data)


async def state(env, outage_id: str):
    return await ops.outage_state(env.client, outage_id)


async def settled(env, outage_id: str, check, what: str, timeout: float = 30.0):
    async def fetch():
        return await state(env, outage_id)

    return await until(fetch, check, what, timeout)


def sn_incident(sim, number: str) -> dict:
    return sim.servicenow.query("incident", f"number={number}")[0]


def sn_problem(sim, number: str) -> dict:
    return sim.servicenow.query("problem", f"number={number}")[0]


def outage_mail(sim) -> Counter[str]:
    """Recipient -> how many `outage_resolved` emails reached them."""
    return Counter(
        ",".join(sorted(m.envelope_to))
        for m in sim.mail.messages
        if m.template == "outage_resolved"
    )


def log_sn_incidents(sim, n: int, prefix: str = "caller") -> list[str]:
    numbers = []
    for i in range(n):
        rec = sim.servicenow.log_incident(
            f"Cannot reach the VPN ({i})",
            caller=f"{prefix.title()} {i}",
            caller_email=f"{prefix}{i}@example.edu",
            assignment_group="Service Desk",
        )
        numbers.append(rec["number"])
    return numbers
