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
