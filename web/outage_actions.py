"""Outage and triage actions as the web app takes them: who the signed-in person is becomes
the message's actor field, and their role the level that `incident_action` checks.

Shared by the staff console's forms and the JSON API, so both refuse exactly alike.
"""

from __future__ import annotations

from typing import Any

from domain.outages import Role as OutageRole
from operations import outages as ops
from operations.errors import forbidden
from web.deps import WebApp
from web.security import Perm, Staff

ACTOR = {
    "report_potential": "reported_by",
    "confirm": "confirmed_by",
    "dismiss": "dismissed_by",
    "resolve": "resolved_by",
    "link_incident": "by",
    "unlink_incident": "by",
    "assign_follow_up": "by",
    "incident_action": "by",
}
NEEDS = {
    "report_potential": Perm.report_outage,
    "unlink_incident": Perm.report_outage,
    "confirm": Perm.run_outage,
    "dismiss": Perm.run_outage,
    "resolve": Perm.run_outage,
    "assign_follow_up": Perm.run_outage,
    "link_incident": Perm.desk,
    "incident_action": Perm.desk,
}


def outage_role(staff: Staff) -> OutageRole:
    """The level someone acts at on an outage: SNCC, then HDQA, else level 1."""
    if "sncc" in staff.roles:
        return "sncc"
    if "hdqa" in staff.roles:
        return "hdqa"
    return "level_1"


async def outage_update(
    app: WebApp, staff: Staff, outage_id: str, name: str, data: dict[str, Any]
) -> Any:
    perm = NEEDS.get(name)
    if perm is not None and not staff.can(perm):
        raise forbidden(f"{name.replace('_', ' ')} needs the {perm.value} permission")
    body = dict(data) if isinstance(data, dict) else data
    if isinstance(body, dict) and name in ACTOR:
        body[ACTOR[name]] = staff.name
        if name == "incident_action":
            body["role"] = outage_role(staff)
    return await ops.outage_update(
        await app.client(), app.settings.task_queue, app.settings.itsm, outage_id, name, body
    )
