"""An outage from report to resolution through the ServiceNow and Halo stand-ins: planned
outages first, SNCC's confirmation, the problem and its owner, incidents linked as calls
come in (duplicates and all), level 1 refused, resolution with one email per customer."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from domain.outages import OutageStatus
from operations.errors import FieldError
from tests.itsm.helpers import local, move_to
from tests.outages.helpers import (
    act,
    log_sn_incidents,
    outage_mail,
    settled,
    sn_incident,
    sn_problem,
)
from tests.workflows.helpers import save_history


async def test_a_planned_outage_in_progress_takes_the_incidents(
    env, worker, hooks, sim, processes_loaded
):
    await move_to(env, sim, local(2026, 12, 5, 23))  # inside the Exchange upgrade window
    incidents = log_sn_incidents(sim, 2, "mailuser")
    s = await act(
        env,
        worker,
        "mail-1",
        "report_potential",
        service="email",
        summary="Outlook cannot connect",
        incidents=incidents,
        reported_by="Hana HDQA",
    )
    assert s.status == OutageStatus.planned
    assert s.planned_match is not None and s.planned_match.id == "mail-upgrade"
    assert [p.id for p in s.planned_outages] == ["mail-upgrade"]
    s = await settled(
        env, "mail-1", lambda s: all(i.in_itsm for i in s.incidents.values()), "links"
    )
    problem = sn_problem(sim, s.problem_id)
    assert problem["assignment_group"] == "SNCC-Sysops"
    assert "Exchange upgrade" in problem["short_description"]
    for number in incidents:
        assert sn_incident(sim, number)["problem_id"] == problem["sys_id"]


async def test_confirmed_outage_links_calls_refuses_level_1_and_resolves_each_once(
    env, worker, hooks, sim, processes_loaded
):
    await move_to(env, sim, local(2026, 12, 8, 9))
    first = log_sn_incidents(sim, 2, "vpnfirst")
    later = log_sn_incidents(sim, 4, "vpnlater")
    s = await act(
        env,
        worker,
        "vpn-1",
        "report_potential",
        service="VPN",
        summary="VPN refuses every login",
        incidents=first,
        reported_by="Hana HDQA",
    )
    # Nothing planned is in progress: the VPN's planned outages are shown, none matched.
    assert s.status == OutageStatus.reported and s.planned_match is None
    assert [p.id for p in s.planned_outages] == ["vpn-cert"]
    with pytest.raises(FieldError) as refused:
        await act(
            env, worker, "vpn-1", "confirm", owner_team="Desktop Services", confirmed_by="Sid SNCC"
        )
    assert refused.value.field == "owner_team"
    s = await act(
        env,
        worker,
        "vpn-1",
        "confirm",
        owner_team="SNCC-Network",
        confirmed_by="Sid SNCC",
        public_note="VPN logins fail; we are on it",
    )
    assert s.status == OutageStatus.confirmed

    # Calls continue: several agents link at once, one of them twice.
    links = [
        act(env, worker, "vpn-1", "link_incident", ticket_id=t, by=f"agent{i}")
        for i, t in enumerate(later + later[:2])
    ]
    results = await asyncio.gather(*links)
    assert sum(r["already_linked"] for r in results) == 2
    s = await settled(
        env,
        "vpn-1",
        lambda s: len(s.incidents) == 6 and all(i.in_itsm for i in s.incidents.values()),
        "six incidents linked in ServiceNow",
    )
    problem = sn_problem(sim, s.problem_id)
    assert problem["assignment_group"] == "SNCC-Network"
    assert {sn_incident(sim, n)["problem_id"] for n in first + later} == {problem["sys_id"]}

    # Level 1 may neither resolve a linked incident nor escalate it to HDQA.
    for action in ("resolve", "escalate_to_hdqa"):
        with pytest.raises(FieldError) as refused:
            await act(
                env,
                worker,
                "vpn-1",
                "incident_action",
                ticket_id=later[0],
                action=action,
                role="level_1",
                by="Lee Level1",
            )
        assert refused.value.status == 403 and "seed 004 step 9" in refused.value.message
    assert sn_incident(sim, later[0])["state"] == "1"

    # One caller turns out to have another problem: unlinked, never resolved nor emailed.
    await act(
        env,
        worker,
        "vpn-1",
        "unlink_incident",
        ticket_id=later[3],
        by="Hana HDQA",
        reason="Wi-Fi, not VPN",
    )
    await act(
        env,
        worker,
        "vpn-1",
        "resolve",
        resolved_by="Sid SNCC",
        notes="Certificate replaced.",
        follow_up_team="Network Engineering",
    )
    s = await settled(env, "vpn-1", lambda s: s.status == OutageStatus.resolved, "resolved")
    assert s.counts() == {"linked": 5, "resolved": 5, "emailed": 5, "skipped": 0}
    for n in first + later[:3]:
        rec = sn_incident(sim, n)
        assert rec["state"] == "6" and "outage vpn-1" in rec["close_notes"]
    assert sn_incident(sim, later[3])["state"] == "1"
    s = await settled(env, "vpn-1", lambda s: s.follow_up_assigned, "follow-up")
    assert sn_problem(sim, s.problem_id)["assignment_group"] == "Network Engineering"
    await asyncio.sleep(0.3)
    expected = Counter({f"vpnfirst{i}@example.edu": 1 for i in range(2)})
    expected += Counter({f"vpnlater{i}@example.edu": 1 for i in range(3)})
    assert outage_mail(sim) == expected
    mail = sim.mail.find(to="vpnfirst0@example.edu", template="outage_resolved")[0]
    assert "contact the Help Desk" in mail.text and mail.ticket == f"servicenow-{first[0]}"

    # After resolution nothing more is linked.
    with pytest.raises(FieldError) as refused:
        await act(env, worker, "vpn-1", "link_incident", ticket_id=later[3], by="agent9")
    assert refused.value.field == "status"
    await save_history(env.client.get_workflow_handle("outage-vpn-1"), "outage_resolved")
