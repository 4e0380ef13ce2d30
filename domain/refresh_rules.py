"""What a customer, approver or staff member may ask of a ticket, per style and options.

Pure functions shared by the workflow's update validators (so a bad request leaves no
trace in history) and the web app (so the error is shown next to the field at fault).
"""

from __future__ import annotations

from domain.labels import label
from domain.refresh import (
    SLOT_PICKING,
    TERMINAL,
    ConfigView,
    Deadline,
    DeviceChoice,
    ProvideLocation,
    RefreshOptions,
    ShippingAddress,
    Status,
    TicketEdit,
    TicketState,
    WizardSubmission,
)


class RuleViolation(ValueError):
    """A request the rules refuse; `field` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# An actor "link:<address>" is whoever followed a customer link sent to <address>: the ticket
# itself says whether that is its user or its delegate (`link_actor`).
LINK = "link:"


class LinkRefused(ValueError):
    """A customer link sent to an address the ticket no longer names."""


def link_actor(state: TicketState, actor: str) -> str:
    """The audit's name for `actor`: "customer:<address>" or "delegate:<address>" for a
    link's "link:<address>", other actors as they are.

    The workflow answers this, not the web app's copy of the ticket: a wizard Confirm needs
    no database read first, and a link to a delegate replaced since is refused by the
    ticket as it is now.
    """
    if not actor.startswith(LINK):
        return actor
    address = actor.removeprefix(LINK).lower()
    if address == str(state.user.email).lower():
        return f"customer:{address}"
    if state.delegate is not None and address == str(state.delegate.email).lower():
        return f"delegate:{address}"
    raise LinkRefused("this link is not valid any more; use the link in your latest email")


def check_location(
    state: TicketState, location: str | None, shipping: ShippingAddress | None
) -> None:
    """The location page: what each style requires."""
    if state.style == "remote" and shipping is None:
        raise RuleViolation("shipping_address", "a shipping address is required for @home refresh")
    if state.style == "on_prem" and not (location or "").strip():
        raise RuleViolation("location", "enter the building and room of the computer")
    if state.style == "unit_location" and location and location != state.unit_location:
        raise RuleViolation(
            "location", f"this refresh takes place at {state.unit_location}; it cannot be changed"
        )


def check_device(state: TicketState, config: ConfigView, device: DeviceChoice) -> None:
    """The device page: proposed model, another approved model, or 'none is adequate'."""
    opts = options_of(state, config)
    existing = state.existing_system.platform
    proposed = config.proposed_models.get(device.platform)
    if device.none_adequate:
        if not (opts.can_customize_computer or opts.can_request_different_device):
            raise RuleViolation("device", "this refresh does not allow requesting another device")
        return
    if device.platform != existing and not opts.can_customize_platform:
        raise RuleViolation("device.platform", f"this refresh keeps the {existing} platform")
    if device.model == proposed:
        return
    if not opts.can_customize_computer:
        raise RuleViolation(
            "device.model", f"this refresh provides the proposed model {proposed or '(none set)'}"
        )
    approved = {
        m.model
        for m in config.approved_models
        if m.org == config.org and m.platform == device.platform
    }
    if device.model not in approved:
        raise RuleViolation(
            "device.model",
            f"{device.model} is not an approved {device.platform} model for {config.org}",
        )


def options_of(state: TicketState, config: ConfigView) -> RefreshOptions:
    """The ticket's own options: its config's at setup, then as config edits reach it
    (domain.config_changes). Only a ticket not yet set up reads its config's."""
    return state.options or config.options


def check_peripherals(state: TicketState, config: ConfigView, peripherals: list[str]) -> None:
    if options_of(state, config).can_customize_peripherals:
        allowed = set(config.peripheral_catalog) | set(config.peripheral_bundle)
        unknown = [p for p in peripherals if p not in allowed]
        if unknown:
            raise RuleViolation(
                "peripherals", f"not approved for {config.org}: {', '.join(unknown)}"
            )
    elif sorted(peripherals) != sorted(config.peripheral_bundle):
        raise RuleViolation("peripherals", "this refresh provides the standard peripheral bundle")


def check_software(state: TicketState, config: ConfigView, software: list[str]) -> None:
    if not software:
        return
    if not options_of(state, config).can_customize_software:
        raise RuleViolation("software", "this refresh does not take software requests")
    unknown = [s for s in software if s not in config.software_catalog]
    if unknown:
        raise RuleViolation("software", f"not in the software catalog: {', '.join(unknown)}")


def check_wizard(state: TicketState, config: ConfigView, msg: WizardSubmission) -> None:
    check_location(state, msg.location, msg.shipping_address)
    if msg.device is not None:
        check_device(state, config, msg.device)
    if msg.peripherals is not None:
        check_peripherals(state, config, msg.peripherals)
    check_software(state, config, msg.software)


def check_provide_location(state: TicketState, msg: ProvideLocation) -> None:
    check_location(state, msg.location, msg.shipping_address)


def check_edit(state: TicketState, config: ConfigView, msg: TicketEdit) -> None:
    if msg.device is not None:
        check_device(state, config, msg.device)
    if msg.peripherals is not None:
        check_peripherals(state, config, msg.peripherals)
    if msg.software is not None:
        check_software(state, config, msg.software)
    if msg.shipping_address is not None and state.style != "remote":
        raise RuleViolation("shipping_address", "only @home refreshes ship")
    if msg.location is not None and state.style == "unit_location":
        check_location(state, msg.location, None)


# ----- signals and updates a ticket would ignore or refuse -------------------------------------


def send_invite_now_refusal(state: TicketState) -> str | None:
    """Why `send_invite_now` cannot move this ticket's invite to now, or None if it can.

    Only a ticket still waiting for its invite has one to send early; one being set up has
    no invite time yet (its start computes it a moment later)."""
    if state.status != Status.pending_invite:
        return f"the invite was already sent or is not due: this ticket is {label(state.status)}"
    if Deadline.invite not in state.deadlines:
        return "this ticket is still being set up; try again in a moment"
    return None


def assign_refusal(status: Status, bump_down: bool, has_replacement: bool) -> str | None:
    """Why `assign_replacement` would be ignored (also asked row by row by the bulk upload,
    which reads the console's rows, not a ticket's state), or None."""
    if status != Status.pending_ordering:
        return (
            f"a replacement is assigned while the ticket waits for ordering; "
            f"this ticket is {label(status)}"
        )
    if bump_down and has_replacement:
        return "a bump-down ticket brings its own replacement; exchange it instead"
    return None


def signal_refusal(state: TicketState, name: str) -> str | None:
    """Why the workflow would ignore signal `name` in `state`, or None if it acts on it.

    The workflow's signal handlers and the senders (CLI, web, bulk) ask this one function,
    so a signal that would be dropped is refused before it is sent, with the same reason."""
    status = state.status
    if name == "assign_replacement":
        return assign_refusal(status, state.bump_down, state.replacement_system is not None)
    if name in ("exchange_replacement", "set_tracking", "config_changed") and status in TERMINAL:
        return f"this ticket is {label(status)}"
    if name == "trigger_customer_reschedule" and status not in SLOT_PICKING:
        return (
            "only a ticket whose customer picks or has picked an appointment can be asked "
            f"to pick again; this ticket is {label(status)}"
        )
    return None
