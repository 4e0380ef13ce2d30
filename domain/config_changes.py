"""What changed in a refresh config, and which running tickets each change reaches.

A config is read by every ticket of its campaign, so an edit is shown before it is saved
with what it does to the tickets already running (issue 17, point 3):

* approvers apply to every running ticket from its next step on (approvals, edits and
  change requests are checked against the new list);
* catalogs (approved models, peripheral and software catalogs, the org whose models are
  offered) apply from the next step on while a ticket can still choose, i.e. before ordering;
* options, the proposed models and the peripheral bundle shape the wizard: they apply to
  tickets whose wizard is not yet submitted;
* requires approval applies to tickets that have not reached the approval step yet;
* the unit location applies to unit-location tickets not yet delivered (their emails);
* the prestage group applies to tickets whose replacement is not assigned yet;
* name, default style and support team are read when a ticket is created: new tickets only.

The rules are pure, so the page that previews an edit and the test that checks it agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from domain.refresh import EDITABLE, ConfigView, Status, TicketState

FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "org": "Organisation",
    "default_style": "Default style",
    "requires_approval": "Requires approval",
    "approvers": "Approvers",
    "options": "Options",
    "approved_models": "Approved models",
    "proposed_models": "Proposed models",
    "peripheral_bundle": "Peripheral bundle",
    "peripheral_catalog": "Peripheral catalog",
    "software_catalog": "Software catalog",
    "unit_location": "Unit location",
    "prestage_group": "Prestage group",
    "support_team": "Support team",
}


class RunningTicket(BaseModel):
    """What the rules need of a ticket of the config (from the ticket projection)."""

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    status: Status
    held_from: Status | None = None
    style: str
    wizard_submitted: bool = False

    @classmethod
    def of_state(cls, s: TicketState) -> RunningTicket:
        return cls(
            ticket_id=s.ticket_id,
            status=s.status,
            held_from=s.held_from,
            style=s.style,
            wizard_submitted=s.wizard_submitted,
        )

    @property
    def stage(self) -> Status:
        """Where the ticket is in its lifecycle: an on-hold ticket is where it was held."""
        if self.status == Status.on_hold and self.held_from is not None:
            return self.held_from
        return self.status


class FieldChange(BaseModel):
    """One field's value before and after (None before: the config was created)."""

    model_config = ConfigDict(frozen=True)

    field: str
    before: Any = None
    after: Any = None

    @property
    def label(self) -> str:
        return FIELD_LABELS.get(self.field, self.field)


class Impact(BaseModel):
    """What a change does to running tickets, in words, and how many it reaches."""

    model_config = ConfigDict(frozen=True)

    field: str
    label: str
    applies_to: str
    tickets: int


def _never(_: RunningTicket) -> bool:
    return False


def _always(_: RunningTicket) -> bool:
    return True


def _before_ordering(t: RunningTicket) -> bool:
    return t.stage in EDITABLE


def _wizard_open(t: RunningTicket) -> bool:
    return (
        t.style != "no_customer"
        and not t.wizard_submitted
        and t.stage in (Status.pending_invite, Status.pending_wizard)
    )


def _before_approval(t: RunningTicket) -> bool:
    return t.stage in (Status.pending_invite, Status.pending_wizard, Status.pending_location_info)


def _unit_not_delivered(t: RunningTicket) -> bool:
    return t.style == "unit_location" and t.stage not in (Status.installed, Status.complete)


def _replacement_not_assigned(t: RunningTicket) -> bool:
    return t.stage in EDITABLE or t.stage == Status.pending_ordering


_WIZARD = "tickets whose wizard is not yet submitted"
_CATALOG = "running tickets from their next step on, until ordering (wizard and edits)"
_NEW = "new tickets only (read when a ticket is created)"
EFFECTS: dict[str, tuple[str, Callable[[RunningTicket], bool]]] = {
    "name": (_NEW, _never),
    "default_style": (_NEW, _never),
    "support_team": (_NEW, _never),
    "approvers": (
        "every running ticket from its next step on (approvals, edits, change requests)",
        _always,
    ),
    "requires_approval": ("tickets that have not reached the approval step", _before_approval),
    "options": (_WIZARD, _wizard_open),
    "proposed_models": (_WIZARD, _wizard_open),
    "peripheral_bundle": (_WIZARD, _wizard_open),
    "org": (_CATALOG, _before_ordering),
    "approved_models": (_CATALOG, _before_ordering),
    "peripheral_catalog": (_CATALOG, _before_ordering),
    "software_catalog": (_CATALOG, _before_ordering),
    "unit_location": ("unit-location tickets not yet delivered", _unit_not_delivered),
    "prestage_group": ("tickets whose replacement is not assigned yet", _replacement_not_assigned),
}


def config_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[FieldChange]:
    """The fields that differ, in the editor's order; every field when `before` is None."""
    fields = [f for f in FIELD_LABELS if f in after or (before and f in before)]
    if before is None:
        return [FieldChange(field=f, after=after.get(f)) for f in fields]
    return [
        FieldChange(field=f, before=before.get(f), after=after.get(f))
        for f in fields
        if before.get(f) != after.get(f)
    ]


def impact(changes: Iterable[FieldChange], tickets: Iterable[RunningTicket]) -> list[Impact]:
    """For each change: the tickets it reaches (by the rules above) and how many."""
    running = [t for t in tickets if t.status not in (Status.complete, Status.cancelled)]
    found = []
    for change in changes:
        applies_to, reaches = EFFECTS[change.field]
        found.append(
            Impact(
                field=change.field,
                label=change.label,
                applies_to=applies_to,
                tickets=sum(1 for t in running if reaches(t)),
            )
        )
    return found


# ----- a running ticket taking a newer version (for RefreshTicket, when it reloads) ----------


class ConfigReload(BaseModel):
    """What a running ticket takes from a newer version of its config.

    `config` is the view the ticket acts under from now on: the new value of every field whose
    change reaches it (by EFFECTS, the rules the editor's preview counted), its old value for
    the rest, and the new version number. `applied` and `kept` name the changed fields.
    """

    model_config = ConfigDict(frozen=True)

    config: ConfigView
    applied: list[str]
    kept: list[str]

    @property
    def audit_detail(self) -> str:
        """What the ticket's audit says: the version, what it took, what it kept."""
        text = f"config {self.config.id} v{self.config.version}"
        if self.applied:
            text += ": " + ", ".join(FIELD_LABELS[f].lower() for f in self.applied)
        if self.kept:
            text += "; kept " + ", ".join(FIELD_LABELS[f].lower() for f in self.kept)
        return text


_VIEW_ONLY = {"id", "version"}


def reload_plan(state: TicketState, current: ConfigView, newer: ConfigView) -> ConfigReload:
    """Pure: which of `newer`'s changes reach this ticket now (deterministic, for workflows)."""
    ticket = RunningTicket.of_state(state)
    changes = config_changes(
        current.model_dump(mode="json", exclude=_VIEW_ONLY),
        newer.model_dump(mode="json", exclude=_VIEW_ONLY),
    )
    applied = [c.field for c in changes if EFFECTS[c.field][1](ticket)]
    kept = [c.field for c in changes if c.field not in applied]
    update = {f: getattr(newer, f) for f in applied} | {"version": newer.version}
    return ConfigReload(config=current.model_copy(update=update), applied=applied, kept=kept)


def apply_reload(state: TicketState, plan: ConfigReload) -> None:
    """Copy into the ticket's state the config values it keeps there (as at its start)."""
    config = plan.config
    if "options" in plan.applied:
        state.options = config.options
    if "requires_approval" in plan.applied:
        state.requires_approval = config.requires_approval
    if "peripheral_bundle" in plan.applied and not state.wizard_submitted:
        state.peripherals = list(config.peripheral_bundle)
    if "unit_location" in plan.applied and state.style == "unit_location":
        state.unit_location = config.unit_location
