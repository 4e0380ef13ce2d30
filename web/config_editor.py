"""The refresh config editor: check, preview and save a config for the API and the pages.

The rules are the reference data file's (`domain.reference_data.refresh_config_problems`),
so the editor refuses exactly what `deskflow load` refuses, with the same sentences. The API
answers each problem at its path (`approvers.1.email`); the form shows it under the input it
came from (the approvers box: "line 2: email: Field required").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.config_changes import FieldChange, Impact
from domain.reference_data import Loc, RefreshConfigSpec, refresh_config_problems
from domain.refresh import RefreshOptions
from operations import config_changes
from operations.errors import FieldError, not_found
from store import config_history
from store.tables import RefreshConfig, SupportTeam
from web.deps import WebApp
from web.security import Staff

OPTION_NAMES = tuple(RefreshOptions.model_fields)
# Lists the form takes one entry per line of a text box.
LINE_FIELDS = (
    "approvers",
    "approved_models",
    "peripheral_bundle",
    "peripheral_catalog",
    "software_catalog",
)


def api_field(loc: Loc) -> str:
    """("approvers", 1, "email") -> "approvers.1.email": where the API names a problem."""
    return ".".join(str(part) for part in loc) or "config"


def form_field(loc: Loc) -> tuple[str, str]:
    """Which input of the form a problem belongs to, and the words to put before it."""
    if not loc:
        return "config", ""
    head = str(loc[0])
    if head in LINE_FIELDS and len(loc) > 1 and isinstance(loc[1], int):
        rest = ".".join(str(part) for part in loc[2:])
        return head, f"line {loc[1] + 1}: " + (f"{rest}: " if rest else "")
    if head == "proposed_models" and len(loc) > 1:
        return f"proposed_models.{loc[1]}", ""
    if head == "options" and len(loc) > 1:
        return "options", f"{loc[1]}: "
    return head, ""


def _known_teams(db: Session) -> frozenset[str]:
    return frozenset(db.scalars(select(SupportTeam.id)))


def check(db: Session, raw: Any) -> tuple[RefreshConfigSpec | None, list[tuple[Loc, str]]]:
    """The loader's rules on one config: the config if valid, and every problem."""
    spec, problems = refresh_config_problems(raw, _known_teams(db))
    return (spec if not problems else None), problems


def api_error(problems: list[tuple[Loc, str]], prefix: str = "") -> FieldError:
    errors: dict[str, str] = {}
    for loc, message in problems:
        errors.setdefault(prefix + api_field(loc), message)
    field, message = next(iter(errors.items()))
    summary = f"{field}: {message}" if len(errors) == 1 else f"{len(errors)} fields need attention"
    return FieldError(422, summary, field, errors)


def form_errors(problems: list[tuple[Loc, str]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for loc, message in problems:
        name, before = form_field(loc)
        errors[name] = f"{errors[name]}; " if name in errors else ""
        errors[name] += before + message
    return errors


# ----- the form: flat inputs <-> the config's shape -----------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _parts(line: str, names: tuple[str, ...]) -> dict[str, str]:
    values = [part.strip() for part in line.split(",", len(names) - 1)]
    return {name: value for name, value in zip(names, values, strict=False) if value}


def from_form(form: dict[str, str], config_id: str) -> dict[str, Any]:
    """The editor's inputs as a config (unchecked): the approvers box holds one approver per
    line as "uniqname, name, email", the models box "org, platform, model"."""
    raw: dict[str, Any] = {
        "id": config_id,
        "name": form.get("name", ""),
        "org": form.get("org", ""),
        "default_style": form.get("default_style", ""),
        "requires_approval": form.get("requires_approval") == "on",
        "approvers": [
            _parts(line, ("uniqname", "name", "email"))
            for line in _lines(form.get("approvers", ""))
        ],
        "options": {name: form.get(f"options.{name}") == "on" for name in OPTION_NAMES},
        "approved_models": [
            _parts(line, ("org", "platform", "model"))
            for line in _lines(form.get("approved_models", ""))
        ],
        "proposed_models": {
            platform: form.get(f"proposed_models.{platform}", "") for platform in ("windows", "mac")
        },
        "peripheral_bundle": _lines(form.get("peripheral_bundle", "")),
        "peripheral_catalog": _lines(form.get("peripheral_catalog", "")),
        "software_catalog": _lines(form.get("software_catalog", "")),
    }
    for optional in ("unit_location", "prestage_group", "support_team"):
        raw[optional] = form.get(optional, "").strip() or None
    return raw


def to_form(values: dict[str, Any]) -> dict[str, Any]:
    """A stored config as the form's inputs (the inverse of `from_form`)."""
    form: dict[str, Any] = {
        key: values.get(key) or "" for key in ("name", "org", "default_style", "unit_location")
    }
    form |= {key: values.get(key) or "" for key in ("prestage_group", "support_team")}
    form["requires_approval"] = "on" if values.get("requires_approval") else ""
    form["approvers"] = "\n".join(
        ", ".join(a.get(k, "") for k in ("uniqname", "name", "email"))
        for a in values.get("approvers") or []
    )
    form["approved_models"] = "\n".join(
        ", ".join(m.get(k, "") for k in ("org", "platform", "model"))
        for m in values.get("approved_models") or []
    )
    for platform in ("windows", "mac"):
        form[f"proposed_models.{platform}"] = (values.get("proposed_models") or {}).get(
            platform, ""
        )
    for name in OPTION_NAMES:
        form[f"options.{name}"] = "on" if (values.get("options") or {}).get(name) else ""
    for key in ("peripheral_bundle", "peripheral_catalog", "software_catalog"):
        form[key] = "\n".join(values.get(key) or [])
    return form


# ----- reading and saving -------------------------------------------------------------------


def stored(db: Session, config_id: str) -> tuple[dict[str, Any], int]:
    """A config's values and version, or 404."""
    row = db.get(RefreshConfig, config_id)
    if row is None:
        raise not_found(f"no refresh config {config_id}")
    return config_history.config_values(row), config_history.current_version(db, config_id)


def preview(db: Session, spec: RefreshConfigSpec) -> tuple[list[FieldChange], list[Impact]]:
    return config_history.edit_impact(db, spec)


def save(
    db: Session,
    spec: RefreshConfigSpec,
    actor: str,
    now: Any,
    *,
    creating: bool,
    edited_version: int | None,
) -> config_history.Saved:
    """Save a checked config; 409 for a new id that exists or an edit of an old version."""
    exists = db.get(RefreshConfig, spec.id) is not None
    if creating and exists:
        raise FieldError(409, f"refresh config {spec.id} already exists; edit it instead", "id")
    if not creating and not exists:
        raise not_found(f"no refresh config {spec.id}")
    try:
        return config_history.save_config(
            db,
            spec,
            actor=actor,
            source=config_history.EDITOR,
            now=now,
            edited_version=edited_version,
        )
    except config_history.StaleVersion as e:
        raise FieldError(409, str(e), "edited_version") from None


async def save_checked(
    app: WebApp,
    staff: Staff,
    raw: Any,
    *,
    creating: bool,
    edited_version: int | None,
    prefix: str = "",
) -> config_history.Saved:
    """Check and save in one transaction (the API's create and edit)."""

    def work(db: Session) -> config_history.Saved:
        spec, problems = check(db, raw)
        if spec is None:
            raise api_error(problems, prefix)
        return save(
            db,
            spec,
            staff.username,
            app.now(),
            creating=creating,
            edited_version=edited_version,
        )

    return await app.write(work)


async def tell_running_tickets(app: WebApp, saved: config_history.Saved, actor: str) -> None:
    """After an edit, the config's running tickets reload it from their next step on."""
    if not saved.changes:
        return
    ids = await app.read(config_changes.running_ticket_ids, saved.config_id)
    if ids:
        await config_changes.tell_running_tickets(
            await app.client(), ids, saved.config_id, saved.version, actor
        )
