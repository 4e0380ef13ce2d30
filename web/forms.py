"""Turning HTML form posts into the API's bodies, so a form and a JSON call are checked alike."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from domain.refresh import ConfigView, TicketState
from operations.errors import from_validation
from web import wizard
from web.security import CSRF_FIELD


def nested(form: Any, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """`{"a.b": "x"}` -> `{"a": {"b": "x"}}`; empty strings left out; `lists` keep all values."""
    out: dict[str, Any] = {}
    for key in form:
        if key == CSRF_FIELD:
            continue
        if key in lists:
            out[key] = [str(v) for v in form.getlist(key)]
            continue
        value = str(form.get(key, "")).strip()
        if value == "":
            continue
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def body(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data` as the API body `model`; 422 naming the field, as the API would."""
    try:
        return model.model_validate(data).model_dump(mode="json", exclude_unset=True)
    except ValidationError as e:
        raise from_validation(e) from None


# ----- the edit form (approvers and Refresh Administrators) -----------------------------------


def edit_choices(s: TicketState, cfg: ConfigView) -> dict[str, Any]:
    options = wizard.device_options(s, cfg)
    models = [(f"{p}|{m}", f"{m} ({p})") for p, m in options.models]
    current = None
    if s.device and not s.device.none_adequate:
        current = f"{s.device.platform}|{s.device.model}"
    return {
        "models": models if options.mode == "choose" else [],
        "proposed": options.proposed.model,
        "device_value": current,
        "peripherals": wizard.peripheral_choices(cfg)
        if cfg.options.can_customize_peripherals
        else [],
        "software": cfg.software_catalog if cfg.options.can_customize_software else [],
    }


def edit_body(form: Any, s: TicketState, cfg: ConfigView) -> dict[str, Any]:
    """Only what the form changes, as an `edit` body."""
    data: dict[str, Any] = {}
    location = str(form.get("location", "")).strip()
    if s.style == "on_prem" and "location" in form and location != (s.location or ""):
        data["location"] = location
    choice = str(form.get("device", "")).strip()
    if choice:
        platform, _, model = choice.partition("|")
        if not s.device or (s.device.platform, s.device.model, s.device.none_adequate) != (
            platform,
            model,
            False,
        ):
            data["device"] = {"platform": platform, "model": model}
    if cfg.options.can_customize_peripherals:
        chosen = [str(v) for v in form.getlist("peripherals")]
        if sorted(chosen) != sorted(s.peripherals):
            data["peripherals"] = chosen
    if cfg.options.can_customize_software:
        chosen = [str(v) for v in form.getlist("software")]
        if sorted(chosen) != sorted(s.software):
            data["software"] = chosen
    if form.get("remove_delegate"):
        data["remove_delegate"] = True
    else:
        name = str(form.get("delegate.name", "")).strip()
        email = str(form.get("delegate.email", "")).strip()
        current = (s.delegate.name, str(s.delegate.email)) if s.delegate else ("", "")
        if (name, email) != current and (name or email):
            data["delegate"] = {"name": name, "email": email}
    return data
