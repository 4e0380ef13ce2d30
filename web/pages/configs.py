"""Staff pages of refresh configs: read them (Refresh Managers and Administrators), create and
edit them (Administrators), with a preview of what an edit does to running tickets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from domain.reference_data import RefreshConfigSpec
from operations.errors import FieldError, not_found
from store import config_history
from web import config_editor, queries
from web.deps import App, ConfigEditor, ConfigViewer, WebApp
from web.pages.render import page
from web.security import Staff

router = APIRouter(include_in_schema=False)
STYLES = [
    ("on_prem", "On prem"),
    ("remote", "Remote customer (@home)"),
    ("unit_location", "Unit specified location"),
    ("no_customer", "No customer (labs, loaners)"),
]


@router.get("/configs", response_class=HTMLResponse)
async def configs_page(request: Request, staff: ConfigViewer, app: App):
    return page(app, request, "staff/configs.html", staff, configs=await app.read(queries.configs))


def _config_page_data(db: Session, config_id: str) -> dict[str, Any]:
    row = queries.config_row(db, config_id)
    if row is None:
        raise not_found(f"no refresh config {config_id}")
    return {
        "row": row,
        "c": queries.config(db, config_id),
        "version": config_history.current_version(db, config_id),
        "history": config_history.history(db, config_id),
        "running": len(config_history.running_tickets(db, config_id)),
    }


# ----- the editor ---------------------------------------------------------------------------


async def _form_page(
    app: WebApp,
    request: Request,
    staff: Staff,
    *,
    config_id: str | None,
    values: dict[str, Any],
    version: int = 0,
    errors: dict[str, str] | None = None,
    preview: tuple[list, list] | None = None,
    status: int = 200,
) -> Response:
    teams = [(t.id, f"{t.id}: {t.name}") for t in await app.read(queries.teams)]
    return page(
        app,
        request,
        "staff/config_form.html",
        staff,
        status,
        config_id=config_id,
        values=values,
        version=version,
        errors=errors or {},
        preview=preview,
        styles=STYLES,
        teams=teams,
        options=config_editor.OPTION_NAMES,
    )


@router.get("/configs/new", response_class=HTMLResponse)
async def new_config_page(request: Request, staff: ConfigEditor, app: App):
    values = {"default_style": "on_prem"}
    return await _form_page(app, request, staff, config_id=None, values=values)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: str(value) for key, value in form.items() if isinstance(value, str)}


@router.post("/configs/new", response_class=HTMLResponse)
async def new_config(request: Request, staff: ConfigEditor, app: App):
    values = await _form(request)
    raw = config_editor.from_form(values, values.get("id", "").strip())

    def work(db: Session) -> config_history.Saved | dict[str, str]:
        spec, problems = config_editor.check(db, raw)
        if spec is None:
            return config_editor.form_errors(problems)
        return config_editor.save(
            db, spec, staff.username, app.now(), creating=True, edited_version=None
        )

    try:
        result = await app.write(work)
    except FieldError as e:
        result = e.errors
    if isinstance(result, dict):
        return await _form_page(
            app, request, staff, config_id=None, values=values, errors=result, status=422
        )
    return RedirectResponse(f"/configs/{result.config_id}?saved=1", status_code=303)


@router.get("/configs/{config_id}", response_class=HTMLResponse)
async def config_page(request: Request, config_id: str, staff: ConfigViewer, app: App):
    data = await app.read(_config_page_data, config_id)
    notice = "Saved." if request.query_params.get("saved") else None
    return page(app, request, "staff/config.html", staff, notice=notice, **data)


@router.get("/configs/{config_id}/edit", response_class=HTMLResponse)
async def edit_config_page(request: Request, config_id: str, staff: ConfigEditor, app: App):
    stored, version = await app.read(config_editor.stored, config_id)
    values = config_editor.to_form(stored)
    return await _form_page(
        app, request, staff, config_id=config_id, values=values, version=version
    )


@router.post("/configs/{config_id}/edit", response_class=HTMLResponse)
async def edit_config(request: Request, config_id: str, staff: ConfigEditor, app: App):
    """First a preview (what changes, how many running tickets each reaches), then save."""
    values = await _form(request)
    try:
        edited = int(values.get("edited_version", ""))
    except ValueError:
        raise FieldError(422, "reload the editor: the version it edits is missing") from None
    raw = config_editor.from_form(values, config_id)
    saving = values.get("step") == "save"

    def work(db: Session) -> Any:
        config_editor.stored(db, config_id)
        spec, problems = config_editor.check(db, raw)
        if spec is None:
            return config_editor.form_errors(problems)
        if not saving:
            return config_editor.preview(db, spec)
        return _save(db, spec)

    def _save(db: Session, spec: RefreshConfigSpec) -> config_history.Saved:
        return config_editor.save(
            db, spec, staff.username, app.now(), creating=False, edited_version=edited
        )

    try:
        result = await (app.write(work) if saving else app.read(work))
    except FieldError as e:
        if e.status != 409:
            raise
        result = {"_form": e.message}
    if isinstance(result, config_history.Saved):
        await config_editor.tell_running_tickets(app, result, staff.username)
        return RedirectResponse(f"/configs/{config_id}?saved=1", status_code=303)
    errors = result if isinstance(result, dict) else None
    return await _form_page(
        app,
        request,
        staff,
        config_id=config_id,
        values=values,
        version=edited,
        errors=errors,
        preview=None if errors else result,
        status=422 if errors else 200,
    )
