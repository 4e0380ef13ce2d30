"""Staff pages of refresh configs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from operations.errors import not_found
from web import queries
from web.deps import App, ConfigViewer
from web.pages.render import page

router = APIRouter(include_in_schema=False)


@router.get("/configs", response_class=HTMLResponse)
async def configs_page(request: Request, staff: ConfigViewer, app: App):
    return page(app, request, "staff/configs.html", staff, configs=await app.read(queries.configs))


@router.get("/configs/{config_id}", response_class=HTMLResponse)
async def config_page(request: Request, config_id: str, staff: ConfigViewer, app: App):
    row = await app.read(queries.config_row, config_id)
    if row is None:
        raise not_found(f"no refresh config {config_id}")
    return page(
        app,
        request,
        "staff/config.html",
        staff,
        row=row,
        c=await app.read(queries.config, config_id),
    )
