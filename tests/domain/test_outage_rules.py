"""Outage rules (seed 004): planned outages checked first, who may do what and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from domain.outages import (
    Confirm,
    IncidentAction,
    LinkedIncident,
    LinkIncident,
    OutagesSpec,
    OutageState,
    OutageStatus,
    Refused,
    ReportPotential,
    UnlinkIncident,
    check_confirm,
    check_incident_action,
    check_link,
    check_report,
    check_resolve,
    check_unlink,
    matching_planned,
    planned_for,
)

SPEC = OutagesSpec.model_validate(
    yaml.safe_load((Path(__file__).parents[1] / "outages" / "processes.yaml").read_text())[
        "outages"
    ]
)
START = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # 22:00 Detroit on Dec 5
END = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("service", "at", "expected"),
    [
        ("Email", START, "mail-upgrade"),  # the window includes its start
        ("email", START + timedelta(hours=2), "mail-upgrade"),  # any case
        ("  EMAIL ", START + timedelta(hours=2), "mail-upgrade"),
        ("Email", START - timedelta(seconds=1), None),
        ("Email", END, None),  # and excludes its end
        ("Email", END - timedelta(seconds=1), "mail-upgrade"),
        ("VPN", START + timedelta(hours=1), None),  # another service's window
        ("Wi-Fi", START, None),
    ],
)
def test_a_planned_outage_matches_only_its_service_inside_its_window(service, at, expected):
    found = matching_planned(SPEC, service, at)
    assert (found.id if found else None) == expected


def test_the_planned_outages_of_a_service_are_listed_soonest_first():
    spec = SPEC.model_copy(
        update={
            "planned": [
                *SPEC.planned,
                SPEC.planned[1].model_copy(
                    update={"id": "vpn-early", "starts": START, "ends": END}
                ),
            ]
        }
    )
    assert [p.id for p in planned_for(spec, "vpn")] == ["vpn-early", "vpn-cert"]
    assert planned_for(spec, "printing") == []


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            {
                "planned": [
                    {
                        "id": "a",
                        "service": "x",
                        "title": "t",
                        "owner_team": "o",
                        "starts": "2026-01-02T00:00:00Z",
                        "ends": "2026-01-01T00:00:00Z",
                    }
                ]
            },
            "ends must be after starts",
        ),
        (
            {
                "planned": [
                    {
                        "id": "a",
                        "service": "x",
                        "title": "t",
                        "owner_team": "o",
                        "starts": "2026-01-01T00:00:00",
                        "ends": "2026-01-02T00:00:00Z",
                    }
                ]
            },
            "timezone",
        ),
        ({"owner_teams": []}, "at least 1"),
        ({"hdqa_team": ""}, "at least 1 character"),
    ],
)
def test_a_bad_outages_block_is_refused_naming_the_problem(block, message):
    with pytest.raises(ValidationError) as e:
        OutagesSpec.model_validate(block)
    assert message in str(e.value)


def test_duplicate_planned_ids_are_refused():
    p = SPEC.planned[0].model_dump()
    with pytest.raises(ValidationError, match="duplicate id mail-upgrade"):
        OutagesSpec.model_validate({"planned": [p, p]})


def state(status: OutageStatus, *linked: str, service: str = "VPN") -> OutageState:
    at = datetime(2026, 12, 8, tzinfo=UTC)
    return OutageState(
        outage_id="o1",
        itsm="servicenow",
        status=status,
        service=service,
        incidents={t: LinkedIncident(ticket_id=t, linked_by="a", linked_at=at) for t in linked},
    )


REPORT = ReportPotential(service="VPN", summary="down", incidents=["INC1"], reported_by="h")


def test_a_second_report_adds_incidents_but_not_another_service():
    check_report(state(OutageStatus.reported), REPORT)
    check_report(state(OutageStatus.confirmed), REPORT)
    with pytest.raises(Refused, match="^service: this outage is about VPN"):
        check_report(state(OutageStatus.confirmed), REPORT.model_copy(update={"service": "Wi-Fi"}))
    with pytest.raises(Refused, match="^status: the outage is resolved"):
        check_report(state(OutageStatus.resolved), REPORT)


def test_confirm_names_an_sncc_owner_and_needs_a_report():
    ok = Confirm(owner_team="SNCC-Sysops", confirmed_by="s")
    check_confirm(state(OutageStatus.reported), ok, SPEC)
    with pytest.raises(Refused, match="^owner_team: .*SNCC-Sysops, SNCC-Network"):
        check_confirm(
            state(OutageStatus.reported), Confirm(owner_team="HDQA", confirmed_by="s"), SPEC
        )
    with pytest.raises(Refused, match="^status: only a reported outage"):
        check_confirm(state(OutageStatus.confirmed), ok, SPEC)
    with pytest.raises(Refused, match="report_potential first"):
        check_confirm(state(OutageStatus.reported, service=""), ok, SPEC)


@pytest.mark.parametrize("status", list(OutageStatus))
def test_links_are_taken_only_while_the_outage_is_open(status):
    open_ = status in (OutageStatus.reported, OutageStatus.confirmed, OutageStatus.planned)
    if open_:
        check_link(state(status))
    else:
        with pytest.raises(Refused, match="^status: "):
            check_link(state(status))


def test_unlink_needs_a_linked_incident_of_an_open_outage():
    check_unlink(
        state(OutageStatus.confirmed, "INC1"), UnlinkIncident(ticket_id="INC1", by="a", reason="r")
    )
    with pytest.raises(Refused, match="^ticket_id: INC2 is not linked"):
        check_unlink(
            state(OutageStatus.confirmed, "INC1"),
            UnlinkIncident(ticket_id="INC2", by="a", reason="r"),
        )
    with pytest.raises(Refused, match="^status: "):
        check_unlink(
            state(OutageStatus.resolving, "INC1"),
            UnlinkIncident(ticket_id="INC1", by="a", reason="r"),
        )


def test_only_a_confirmed_outage_is_resolved():
    check_resolve(state(OutageStatus.confirmed))
    check_resolve(state(OutageStatus.planned))
    for status in (OutageStatus.reported, OutageStatus.resolving, OutageStatus.resolved):
        with pytest.raises(Refused, match="^status: "):
            check_resolve(state(status))


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        ("level_1", "resolve", False),
        ("level_1", "escalate_to_hdqa", False),
        ("hdqa", "resolve", True),
        ("hdqa", "escalate_to_hdqa", True),
        ("sncc", "resolve", True),
    ],
)
def test_level_1_neither_resolves_nor_escalates_a_linked_incident(role, action, allowed):
    msg = IncidentAction(ticket_id="INC1", action=action, role=role, by="x")
    if allowed:
        check_incident_action(state(OutageStatus.confirmed, "INC1"), msg)
    else:
        with pytest.raises(Refused, match="^role: seed 004 step 9"):
            check_incident_action(state(OutageStatus.confirmed, "INC1"), msg)


@pytest.mark.parametrize(
    ("model", "data", "field"),
    [
        (
            ReportPotential,
            {"service": "VPN", "summary": "x", "incidents": [], "reported_by": "h"},
            "incidents",
        ),
        (
            ReportPotential,
            {"service": "VPN", "summary": "x", "incidents": ["INC 1"], "reported_by": "h"},
            "incidents",
        ),
        (
            ReportPotential,
            {"service": "", "summary": "x", "incidents": ["I"], "reported_by": "h"},
            "service",
        ),
        (LinkIncident, {"ticket_id": "x" * 65, "by": "a"}, "ticket_id"),
        (LinkIncident, {"ticket_id": "INC1", "by": "a", "role": "boss"}, "role"),
        (
            IncidentAction,
            {"ticket_id": "INC1", "action": "close", "role": "hdqa", "by": "a"},
            "action",
        ),
    ],
)
def test_a_bad_message_names_its_field(model, data, field):
    with pytest.raises(ValidationError) as e:
        model.model_validate(data)
    assert e.value.errors()[0]["loc"][0] == field
