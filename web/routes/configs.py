"""Refresh configs: which computers a unit offers, who approves, how tickets run."""

from __future__ import annotations

from fastapi import APIRouter

from operations.errors import not_found
from web import queries
from web.deps import App, ConfigViewer
from web.responses import ConfigDetail, ConfigSummary

router = APIRouter(prefix="/api/configs", tags=["configs"])


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


@router.get("/{config_id}", summary="One refresh config: models, approvers, options")
async def config(config_id: str, _: ConfigViewer, app: App) -> ConfigDetail:
    row = await app.read(queries.config_row, config_id)
    if row is None:
        raise not_found(f"no refresh config {config_id}")
    view = await app.read(queries.config, config_id)
    return ConfigDetail(
        **view.model_dump(), default_style=row.default_style, support_team=row.support_team
    )
