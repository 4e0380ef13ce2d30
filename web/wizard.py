"""The Refresh Wizard (seed 001, Timeline 4): its pages, their rules, and what comes next.

Each page checks its own answers with the same domain rules the workflow's `submit_wizard`
validator runs, so a mistake is shown on the page where it was made; the answers travel
between pages in a signed cookie (the draft) and reach the workflow once, on "Confirm".
The workflow still decides: its rejection is mapped back to the page of the field it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from domain.refresh import (
    ConfigView,
    DeviceChoice,
    ShippingAddress,
    Status,
    TicketState,
)
from domain.refresh_rules import (
    RuleViolation,
    check_device,
    check_location,
    check_peripherals,
    check_software,
)
from operations.errors import FieldError, from_rule, from_validation

STEPS = ("location", "device", "peripherals", "software", "review")
STEP_TITLES = {
    "location": "Location",
    "device": "Computer",
    "peripherals": "Peripherals",
    "software": "Software",
    "review": "Review and confirm",
}
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "state", "postal_code", "phone")
SCHEDULING_STYLES = ("on_prem", "unit_location")


def step_of(field: str | None) -> str:
    """The wizard page that holds `field` ('shipping_address.postal_code' -> 'location')."""
    head = (field or "").split(".")[0]
    return {
        "location": "location",
        "shipping_address": "location",
        "device": "device",
        "peripherals": "peripherals",
        "software": "software",
    }.get(head, "review")


def following_step(step: str) -> str:
    return STEPS[min(STEPS.index(step) + 1, len(STEPS) - 1)]


def _checked(fn, *args: Any) -> None:
    try:
        fn(*args)
    except RuleViolation as v:
        raise from_rule(v) from None


# ----- the device page's choices -------------------------------------------------------------


@dataclass(frozen=True)
class DeviceOptions:
    mode: str  # "choose" (pick an approved model), "request" (may say inadequate), "notify"
    proposed: DeviceChoice
    models: list[tuple[str, str]]  # (platform, model) the customer may pick


def device_options(state: TicketState, config: ConfigView) -> DeviceOptions:
    platform = state.existing_system.platform
    proposed = DeviceChoice(
        model=config.proposed_models.get(platform) or state.existing_system.model, platform=platform
    )
    opts = config.options
    if opts.can_customize_computer:
        models = [
            (m.platform, m.model)
            for m in config.approved_models
            if m.org == config.org and (opts.can_customize_platform or m.platform == platform)
        ]
        if (proposed.platform, proposed.model) not in models:
            models.insert(0, (proposed.platform, proposed.model))
        return DeviceOptions("choose", proposed, models)
    if opts.can_request_different_device:
        return DeviceOptions("request", proposed, [(proposed.platform, proposed.model)])
    return DeviceOptions("notify", proposed, [(proposed.platform, proposed.model)])


def peripheral_choices(config: ConfigView) -> list[str]:
    return list(dict.fromkeys([*config.peripheral_bundle, *config.peripheral_catalog]))


# ----- reading each page ------------------------------------------------------------------


def _form_list(form: Any, name: str) -> list[str]:
    return (
        [str(v) for v in form.getlist(name)]
        if hasattr(form, "getlist")
        else list(form.get(name) or [])
    )


def parse_location(state: TicketState, form: Any) -> dict[str, Any]:
    if state.style == "remote":
        raw = {f: str(form.get(f"shipping_address.{f}", "")).strip() for f in ADDRESS_FIELDS}
        try:
            address = ShippingAddress.model_validate(raw)
        except ValidationError as e:
            raise from_validation(e, ("shipping_address",)) from None
        _checked(check_location, state, None, address)
        return {"shipping_address": address.model_dump(mode="json")}
    if state.style == "on_prem":
        location = str(form.get("location", "")).strip()
        if len(location) > 300:
            raise FieldError(422, "keep the location under 300 characters", "location")
        _checked(check_location, state, location, None)
        return {"location": location}
    return {}  # unit location: nothing to enter


def parse_device(state: TicketState, config: ConfigView, form: Any) -> dict[str, Any]:
    options = device_options(state, config)
    comment = str(form.get("device_comment", "")).strip()
    if options.mode == "notify":
        return {"device": None}
    if options.mode == "request":
        inadequate = str(form.get("device_inadequate", "")) in ("1", "on", "true", "yes")
        if not inadequate:
            return {"device": None}
        if not comment:
            raise FieldError(
                422, "tell us what the proposed model cannot do for you", "device_comment"
            )
        data = {**options.proposed.model_dump(), "none_adequate": True, "comment": comment}
    else:
        choice = str(form.get("device_choice", ""))
        if choice == "none_adequate":
            if not comment:
                raise FieldError(
                    422, "tell us what none of the models can do for you", "device_comment"
                )
            data = {**options.proposed.model_dump(), "none_adequate": True, "comment": comment}
        else:
            platform, sep, model = choice.partition("|")
            if not sep:
                raise FieldError(422, "choose a computer", "device")
            data = {"platform": platform, "model": model, "comment": comment}
    try:
        device = DeviceChoice.model_validate(data)
    except ValidationError as e:
        raise from_validation(e, ("device",)) from None
    _checked(check_device, state, config, device)
    return {"device": device.model_dump(mode="json")}


def parse_peripherals(state: TicketState, config: ConfigView, form: Any) -> dict[str, Any]:
    if not config.options.can_customize_peripherals:
        return {"peripherals": None}
    chosen = _form_list(form, "peripherals")
    _checked(check_peripherals, state, config, chosen)
    return {"peripherals": chosen}


def parse_software(state: TicketState, config: ConfigView, form: Any) -> dict[str, Any]:
    if not config.options.can_customize_software:
        return {"software": []}
    chosen = _form_list(form, "software")
    _checked(check_software, state, config, chosen)
    return {"software": chosen}


def parse_step(step: str, state: TicketState, config: ConfigView, form: Any) -> dict[str, Any]:
    if step == "location":
        return parse_location(state, form)
    if step == "device":
        return parse_device(state, config, form)
    if step == "peripherals":
        return parse_peripherals(state, config, form)
    if step == "software":
        return parse_software(state, config, form)
    return {}


# ----- the whole submission ---------------------------------------------------------------


# The draft's key for the submission as the review page showed it: Confirm sends it as is,
# without reading the ticket first (the workflow's validator checks it).
READY = "_ready"


def submission(state: TicketState, draft: dict[str, Any]) -> dict[str, Any]:
    """The `submit_wizard` payload from the draft, defaults for pages left as shown."""
    data: dict[str, Any] = {"software": draft.get("software") or []}
    if state.style == "on_prem":
        data["location"] = draft.get("location", state.location or state.existing_system.location)
    if state.style == "remote" and draft.get("shipping_address"):
        data["shipping_address"] = draft["shipping_address"]
    if draft.get("device"):
        data["device"] = draft["device"]
    if draft.get("peripherals") is not None:
        data["peripherals"] = draft["peripherals"]
    return data


def wizard_open(state: TicketState) -> bool:
    return state.status == Status.pending_wizard and not state.wizard_submitted


# ----- what the customer is told ---------------------------------------------------------------


@dataclass(frozen=True)
class NextStep:
    headline: str
    detail: str
    when: datetime | None = None
    action: str | None = None  # "wizard" | "slots"
    reschedule: bool = False  # their appointment was taken away: ask them to pick again


def next_step(state: TicketState) -> NextStep:
    s = state
    status = s.status
    if status == Status.pending_invite:
        return NextStep(
            "Your refresh is being set up",
            "We will email you a link to the Refresh Wizard.",
            s.invite_at,
        )
    if status == Status.pending_wizard:
        if s.wizard_submitted:
            return NextStep("Thank you", "Your answers are in; we are processing them.")
        return NextStep(
            "Please walk the Refresh Wizard",
            "Confirm your location, computer, peripherals and software.",
            s.deadlines.get("location_info"),
            action="wizard",
        )
    if status == Status.pending_location_info:
        return NextStep(
            "We will contact you",
            "The wizard was not completed in time; our staff will confirm your location with you.",
        )
    if status == Status.pending_approval:
        return NextStep("Waiting for approval", "Your unit's approver reviews your choices next.")
    if status in (Status.pending_ordering, Status.pending_itsm_existence):
        return NextStep(
            "Your new computer is being ordered and prepared", "We will email you when it is ready."
        )
    if status == Status.pending_slot_discovery:
        if s.pick_again:
            return NextStep(
                "Your appointment was cancelled",
                "We are sorry: the time you picked is no longer available. We will email you "
                "new times to choose from shortly.",
                reschedule=True,
            )
        return NextStep(
            "Your new computer is ready",
            "We will email you appointment times to choose from, usually within a day.",
        )
    if status == Status.pending_customer_scheduling:
        if s.pick_again:
            return NextStep(
                "Please pick a new appointment time",
                "The time you had picked is no longer available. Please choose another one.",
                action="slots",
                reschedule=True,
            )
        return NextStep(
            "Pick an appointment time",
            "Choose when we deliver and set up your new computer.",
            action="slots",
        )
    if status == Status.delivery_scheduled:
        where = s.unit_location or (s.slot.location if s.slot else "")
        detail = f"Delivery and setup at {where}." if where else "Delivery and setup."
        if s.unit_location:
            detail = (
                f"Please come to {s.unit_location} at this time: "
                "refreshes for your unit take place there."
            )
        return NextStep(
            "Your appointment is booked",
            detail,
            s.day1,
            action="slots" if s.style in SCHEDULING_STYLES else None,
        )
    if status == Status.pending_delivery:
        tracking = f" Tracking number: {s.tracking_number}." if s.tracking_number else ""
        return NextStep(
            "Your new computer is on its way", f"It ships to the address you gave.{tracking}"
        )
    if status == Status.installed:
        return NextStep("Your new computer is installed", "We will close the ticket shortly.")
    if status == Status.complete:
        return NextStep("Your refresh is complete", "Thank you.")
    if status == Status.on_hold:
        return NextStep(
            "Your refresh is on hold", "Our staff will contact you before anything else happens."
        )
    return NextStep("This refresh was cancelled", s.cancel_reason or "")


def customer_view(state: TicketState) -> dict[str, Any]:
    """What a customer may see of their ticket (no audits, staff names or TDX internals)."""
    s = state
    step = next_step(s)
    return {
        "ticket_id": s.ticket_id,
        "status": s.status.value,
        "style": s.style,
        "user": {"name": s.user.name, "email": str(s.user.email)},
        "delegate": s.delegate.model_dump(mode="json") if s.delegate else None,
        "existing_system": s.existing_system.model_dump(mode="json"),
        "replacement_model": s.replacement_system.model if s.replacement_system else None,
        "location": s.location,
        "unit_location": s.unit_location,
        "shipping_address": s.shipping_address.model_dump(mode="json")
        if s.shipping_address
        else None,
        "device": s.device.model_dump(mode="json") if s.device else None,
        "peripherals": s.peripherals,
        "software": s.software,
        "wizard_submitted": s.wizard_submitted,
        "slot": s.slot.model_dump(mode="json") if s.slot else None,
        "tracking_number": s.tracking_number,
        "next": {
            "headline": step.headline,
            "detail": step.detail,
            "when": step.when.isoformat() if step.when else None,
            "action": step.action,
            "reschedule": step.reschedule,
        },
    }
