"""Staff pages of batches: upload a serials CSV, check it, start it, follow it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from operations import tickets
from operations.errors import FieldError, not_found
from web import actions, queries
from web.deps import App, TicketAdmin
from web.pages.render import page

router = APIRouter(include_in_schema=False)


async def _batches_page(app, request, staff, errors=None, values=None, status=200) -> Response:
    configs = [(c.id, f"{c.id}: {c.name}") for c in await app.read(queries.configs)]
    return page(
        app,
        request,
        "staff/batches.html",
        staff,
        status,
        batches=await app.read(queries.batches),
        configs=configs,
        errors=errors or {},
        values=values or {},
    )


@router.get("/batches", response_class=HTMLResponse)
async def batches_page(request: Request, staff: TicketAdmin, app: App):
    return await _batches_page(app, request, staff)


@router.post("/batches/preview", response_class=HTMLResponse)
async def batch_preview(request: Request, staff: TicketAdmin, app: App):
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("config_id", "batch_id", "csv_text")}
    upload = form.get("file")
    text, source = values["csv_text"], "pasted"
    try:
        if upload is not None and not isinstance(upload, str) and upload.filename:
            raw = await upload.read()
            try:
                text, source = raw.decode("utf-8-sig"), upload.filename
            except UnicodeDecodeError:
                raise FieldError(
                    422, "the file is not UTF-8 text (save it as CSV UTF-8)", "csv"
                ) from None
        if not text.strip():
            raise FieldError(422, "choose a CSV file or paste its lines", "csv")
        actions.check_batch_id(values["batch_id"])
        if await app.read(queries.config_row, values["config_id"]) is None:
            raise FieldError(422, "choose a refresh config", "config_id")
        rows, refused = actions.preview_batch(text)
    except FieldError as e:
        return await _batches_page(app, request, staff, e.errors, values, e.status)
    return page(
        app,
        request,
        "staff/batch_preview.html",
        staff,
        rows=rows,
        refused=refused,
        csv=text,
        config_id=values["config_id"],
        batch_id=values["batch_id"],
        source_name=source,
    )


@router.post("/batches")
async def batch_create(request: Request, staff: TicketAdmin, app: App):
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("config_id", "batch_id", "csv", "source_name")}
    try:
        batch_id = await actions.start_batch(
            app,
            staff,
            values["config_id"],
            values["batch_id"],
            values["csv"],
            values["source_name"] or "upload",
        )
    except FieldError as e:
        if e.status not in (409, 422):
            raise
        values["csv_text"] = values.pop("csv")
        return await _batches_page(app, request, staff, e.errors, values, e.status)
    return RedirectResponse(f"/batches/{batch_id}", status_code=303)


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
async def batch_page(request: Request, batch_id: str, staff: TicketAdmin, app: App):
    row = await app.read(queries.batch, batch_id)
    if row is None:
        raise not_found(f"no batch {batch_id}")
    progress = await tickets.batch_progress(await app.client(), batch_id)
    return page(app, request, "staff/batch.html", staff, batch=row, p=progress)
