"""Which running tickets a config change reaches (the rules the editor's preview shows)."""

from __future__ import annotations

from domain.config_changes import RunningTicket, config_changes, impact
from domain.refresh import Status


def ticket(status: Status, style: str = "on_prem", **kw) -> RunningTicket:
    return RunningTicket(ticket_id=f"T-{status.value}-{style}", status=status, style=style, **kw)


TICKETS = [
    ticket(Status.pending_invite),
    ticket(Status.pending_wizard, "unit_location"),
    ticket(Status.pending_wizard, wizard_submitted=True),  # staff-given location path
    ticket(Status.on_hold, held_from=Status.pending_wizard),  # held: counts where it was held
    ticket(Status.pending_approval, wizard_submitted=True),
    ticket(Status.pending_ordering, "no_customer"),
    ticket(Status.delivery_scheduled, "unit_location", wizard_submitted=True),
    ticket(Status.installed, "unit_location", wizard_submitted=True),
    ticket(Status.complete, wizard_submitted=True),  # ended: reached by nothing
    ticket(Status.cancelled),
]


def test_each_kind_of_change_reaches_the_tickets_it_applies_to():
    before = {
        "name": "A",
        "approvers": [],
        "options": {},
        "requires_approval": False,
        "software_catalog": [],
        "unit_location": "Room 1",
        "prestage_group": "G1",
        "default_style": "on_prem",
    }
    after = {
        "name": "B",
        "approvers": [{"uniqname": "x"}],
        "options": {"can_customize_software": True},
        "requires_approval": True,
        "software_catalog": ["MATLAB"],
        "unit_location": "Room 2",
        "prestage_group": "G2",
        "default_style": "remote",
    }
    reach = {i.field: i.tickets for i in impact(config_changes(before, after), TICKETS)}
    assert reach == {
        "name": 0,
        "default_style": 0,
        "requires_approval": 4,  # invite, the two in the wizard, the one held in the wizard
        "approvers": 8,
        "options": 3,  # wizard not submitted: invite, unit wizard, held in wizard
        "software_catalog": 5,  # before ordering
        "unit_location": 2,  # unit-location tickets not yet installed
        "prestage_group": 6,  # before ordering, and pending_ordering
    }


def test_nothing_changed_reaches_nothing_and_a_new_config_lists_every_field():
    same = {"name": "A", "approvers": []}
    assert config_changes(same, dict(same)) == []
    created = config_changes(None, same)
    assert [(c.field, c.before, c.after) for c in created] == [
        ("name", None, "A"),
        ("approvers", None, []),
    ]


def test_a_running_ticket_takes_only_the_changes_that_reach_it():
    from datetime import UTC, datetime

    from domain.config_changes import apply_reload, reload_plan
    from domain.refresh import Approver, ConfigView, RefreshOptions, TicketState

    v1 = ConfigView(
        id="cfg",
        name="Campaign",
        org="LSA",
        requires_approval=True,
        approvers=[{"uniqname": "appr1"}],
        options=RefreshOptions(can_customize_computer=True),
        approved_models=[],
        software_catalog=["MATLAB"],
        peripheral_bundle=["Dock"],
        peripheral_catalog=["Dock", "Headset"],
        version=1,
    )
    v2 = v1.model_copy(
        update={
            "approvers": [Approver(uniqname="appr2")],
            "options": RefreshOptions(can_customize_computer=False),
            "software_catalog": ["MATLAB", "SPSS"],
            "peripheral_bundle": ["Dock", "Headset"],
            "version": 2,
        }
    )
    base = {
        "ticket_id": "T1",
        "config_id": "cfg",
        "style": "on_prem",
        "bump_down": False,
        "support_team": "nit-central",
        "user": {"uniqname": "jdoe", "name": "Jane Doe", "email": "jdoe@example.edu"},
        "existing_system": {"serial": "S1", "platform": "windows", "model": "M"},
        "created_at": datetime(2027, 3, 1, tzinfo=UTC),
        "options": v1.options,
        "peripherals": ["Dock"],
    }
    in_wizard = TicketState(status=Status.pending_wizard, **base)
    plan = reload_plan(in_wizard, v1, v2)
    assert plan.applied == ["approvers", "options", "peripheral_bundle", "software_catalog"]
    assert plan.config.version == 2 and plan.config.is_approver("appr2")
    apply_reload(in_wizard, plan)
    assert not in_wizard.options.can_customize_computer
    assert in_wizard.peripherals == ["Dock", "Headset"]

    submitted = TicketState(status=Status.pending_approval, wizard_submitted=True, **base)
    plan = reload_plan(submitted, v1, v2)
    assert plan.applied == ["approvers", "software_catalog"]
    assert plan.kept == ["options", "peripheral_bundle"]
    assert plan.config.options.can_customize_computer  # its wizard is done: options kept
    assert plan.audit_detail == (
        "config cfg v2: approvers, software catalog; kept options, peripheral bundle"
    )
    apply_reload(submitted, plan)
    assert submitted.options.can_customize_computer and submitted.peripherals == ["Dock"]
