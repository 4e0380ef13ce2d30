"""Refresh configs: which computers a unit offers, who approves, how tickets run.

Refresh Managers read them; Refresh Administrators also create and edit them. Every save is
checked by the reference data file's rules (`web.config_editor`) and recorded in the
config's history; an edit can be previewed first to see what it does to running tickets.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from sqlalchemy.orm import Session

from operations.errors import not_found
from store import config_history
from web import config_editor, queries
from web.deps import App, ConfigEditor, ConfigViewer
from web.responses import (
    ConfigDetail,
    ConfigEdit,
    ConfigImpact,
    ConfigSaved,
    ConfigSummary,
    ConfigVersionEntry,
)

router = APIRouter(prefix="/api/configs", tags=["configs"])

ConfigBody = Annotated[
    dict[str, Any],
    Body(description="a refresh config, exactly as in a reference data file's refresh_configs"),
]


@router.get("", summary="Refresh configs")
async def list_configs(_: ConfigViewer, app: App) -> list[ConfigSummary]:
    return [
        ConfigSummary(
            id=c.id,
            name=c.name,
            org=c.org,
            default_style=c.default_style,
            requires_approval=c.requires_approval,
        )
        for c in await app.read(queries.configs)
    ]


@router.post("", status_code=201, summary="Create a refresh config (Refresh Administrators)")
async def create_config(body: ConfigBody, staff: ConfigEditor, app: App) -> ConfigSaved:
    saved = await config_editor.save_checked(app, staff, body, creating=True, edited_version=None)
    return ConfigSaved.of(saved)


@router.get("/{config_id}", summary="One refresh config: models, approvers, options")
async def config(config_id: str, _: ConfigViewer, app: App) -> ConfigDetail:
    row = await app.read(queries.config_row, config_id)
    if row is None:
        raise not_found(f"no refresh config {config_id}")
    view = await app.read(queries.config, config_id)
    return ConfigDetail(
        **view.model_dump(), default_style=row.default_style, support_team=row.support_team
    )


@router.put("/{config_id}", summary="Edit a refresh config (the version you edited, the config)")
async def edit_config(
    config_id: str, body: ConfigEdit, staff: ConfigEditor, app: App
) -> ConfigSaved:
    saved = await config_editor.save_checked(
        app,
        staff,
        {**body.config, "id": config_id},
        creating=False,
        edited_version=body.edited_version,
        prefix="config.",
    )
    await config_editor.tell_running_tickets(app, saved, staff.username)
    return ConfigSaved.of(saved)


def _impact(db: Session, config_id: str, raw: dict[str, Any]) -> ConfigImpact:
    config_editor.stored(db, config_id)
    spec, problems = config_editor.check(db, {**raw, "id": config_id})
    if spec is None:
        raise config_editor.api_error(problems, "config.")
    changes, impact = config_editor.preview(db, spec)
    return ConfigImpact(changes=changes, impact=impact)


@router.post(
    "/{config_id}/impact",
    summary="What an edit would change, and how many running tickets each change reaches",
)
async def edit_impact(config_id: str, body: ConfigEdit, _: ConfigEditor, app: App) -> ConfigImpact:
    return await app.read(_impact, config_id, body.config)


@router.get("/{config_id}/history", summary="Every saved version: who, when, what changed")
async def config_versions(config_id: str, _: ConfigViewer, app: App) -> list[ConfigVersionEntry]:
    if await app.read(queries.config_row, config_id) is None:
        raise not_found(f"no refresh config {config_id}")
    return [ConfigVersionEntry.of(v) for v in await app.read(config_history.history, config_id)]
