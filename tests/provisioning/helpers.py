"""Driving provisioning tickets in tests: actors, updates, waiting on the workflow and Halo."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from domain.provisioning import Actor, IntakeState, workflow_id
from tests.itsm.helpers import until

PAT = Actor(username="pat", name="Pat Procurement", roles=["procurement"])
CASEY = Actor(username="casey", name="Casey Care", roles=["care_team"])
SAM = Actor(username="sam", name="Sam Specialist", roles=["provisioning_specialist"])
ALEX = Actor(username="alex", name="Alex Analyst", roles=["analyst"])
ALEX_EMAIL = "alex.analyst@example.org"
SAM_EMAIL = "sam.specialist@example.org"
CASEY_EMAIL = "casey.care@example.org"
PROCUREMENT = "7. Procurement"
CAT_8A = "8. Provisioning>A. CIT procured equipment – new"
CAT_8B = "8. Provisioning>B. Client procured equipment – new"
CAT_8C = "8. Provisioning>C. Existing equipment reprovision"
CAT_8D = "8. Provisioning>D. To be determined"
PI, SD_REMOTE = 7, 1  # the Halo stand-in's charge type ids
DOMAIN_PASSWORD = "Tr0ub4dor&3-domain"
M365_PASSWORD = "c0rrect-H0rse-m365!"


def exhibit(**overrides: Any) -> dict[str, Any]:
    values = {
        "by_when": "2026-12-18",
        "employee_name": "Dana Scully",
        "domain_username": "dscully",
        "domain_password": DOMAIN_PASSWORD,
        "m365_username": "dana.scully@example.org",
        "m365_password": M365_PASSWORD,
        "computer_model": "Dell Latitude 5450",
        "serial_number": "7XK2-9QF3",
        "ac_adapter": "yes",
        "battery": "yes",
        "accessories": "Laptop bag",
        "description": "New laptop for a new hire in Finance",
        "media_sanitation": "no",
        "inventory_type": "New CIT",
    }
    return values | overrides


def handle(env, tid: int | str) -> WorkflowHandle:
    return env.client.get_workflow_handle(workflow_id(str(tid)))


async def state(h: WorkflowHandle) -> IntakeState:
    return await h.query("state", result_type=IntakeState)


async def wait_state(h: WorkflowHandle, check, what: str) -> IntakeState:
    return await until(lambda: state(h), lambda s: s is not None and check(s), what)


async def update(h: WorkflowHandle, name: str, body: Any) -> IntakeState:
    return await h.execute_update(name, body, result_type=IntakeState)


async def refused(h: WorkflowHandle, name: str, body: Any) -> str:
    """The message of a refused update (AssertionError if it was accepted)."""
    try:
        await h.execute_update(name, body)
    except WorkflowUpdateFailedError as e:
        return str(e.cause)
    raise AssertionError(f"{name} was accepted")


async def halo_ticket(sim, tid: int) -> dict:
    return sim.halo.store.get("ticket", tid)


def notes(sim, tid: int) -> list[str]:
    return [str(a["note_html"]) for a in sim.halo.actions(tid)]


async def wait_halo(sim, tid: int, check, what: str) -> dict:
    async def fetch():
        return sim.halo.store.get("ticket", tid)

    return await until(fetch, check, what)


async def wait_notes(sim, tid: int, needle: str, what: str) -> list[str]:
    async def fetch():
        return notes(sim, tid)

    return await until(fetch, lambda ns: any(needle in n for n in ns), what)
