"""Staff page of order groups: assign replacement computers, in the table or from a CSV."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from domain.refresh import Status
from operations.errors import FieldError
from web import actions, queries
from web.deps import App, TicketAdmin
from web.pages.render import page

router = APIRouter(include_in_schema=False)


async def _order_group_page(
    app, request, staff, config, batch, result=None, errors=None, values=None, status=200
):
    flt = queries.TicketFilter(config=config or None, batch=batch or None)
    rows = await app.read(queries.tickets_in_status, [Status.pending_ordering.value], flt)
    # A ticket assigned a moment ago is still pending_ordering in the projection until its
    # workflow's next sync: it is not listed again, inviting a second assignment.
    assigned = set(result["done"]) if result else set()
    rows = [
        r
        for r in rows
        if r.ticket_id not in assigned and not (r.state or {}).get("replacement_assigned")
    ]
    proposed: dict[str, str] = {}
    for cfg in await app.read(queries.configs):
        for r in rows:
            if r.config_id == cfg.id:
                platform = (r.state or {}).get("existing_system", {}).get("platform", "windows")
                proposed[r.ticket_id] = (cfg.proposed_models or {}).get(platform, "")
    query = urlencode({k: v for k, v in (("config", config), ("batch", batch)) if v})
    return page(
        app,
        request,
        "staff/order_groups.html",
        staff,
        status,
        rows=rows,
        proposed=proposed,
        flt=flt.__dict__,
        choices=await app.read(queries.filter_choices),
        result=result,
        errors=errors or {},
        values=values or {},
        query=query,
    )


@router.get("/order-groups", response_class=HTMLResponse)
async def order_groups(
    request: Request,
    staff: TicketAdmin,
    app: App,
    config: str | None = None,
    batch: str | None = None,
):
    return await _order_group_page(app, request, staff, config, batch)


def _assignments(form: Any) -> list[dict[str, Any]]:
    """Rows of the table with a serial filled in (ticket_i, serial_i, platform_i, model_i)."""
    found = []
    for i in range(int(form.get("rows") or 0)):
        serial = str(form.get(f"serial_{i}", "")).strip()
        if serial:
            found.append(
                {
                    "ticket_id": str(form.get(f"ticket_{i}", "")),
                    "replacement": {
                        "serial": serial,
                        "platform": str(form.get(f"platform_{i}", "")),
                        "model": str(form.get(f"model_{i}", "")).strip(),
                    },
                }
            )
    return found


@router.post("/order-groups", response_class=HTMLResponse)
async def order_groups_assign(
    request: Request,
    staff: TicketAdmin,
    app: App,
    config: str | None = None,
    batch: str | None = None,
):
    form = await request.form()
    group = str(form.get("group", "")).strip() or None
    text = str(form.get("csv", "")).strip()
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    rows = _assignments(form)
    try:
        if not rows and not text:
            raise FieldError(
                422, "enter a replacement serial for at least one ticket, or paste a CSV", "_form"
            )
        result = {"done": [], "refused": [], "results": []}
        if rows:
            result = await actions.assign_replacements(app, staff, group, rows)
        if text:
            more = await actions.assign_replacements_csv(app, staff, group, text)
            result = {k: result[k] + more[k] for k in result}
    except FieldError as e:
        return await _order_group_page(
            app, request, staff, config, batch, None, e.errors, values, e.status
        )
    return await _order_group_page(app, request, staff, config, batch, result)
