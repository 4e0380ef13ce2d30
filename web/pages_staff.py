"""The staff console: its home page here, the pages of each resource in `web/pages/` (tickets
and Problems, batches, order groups, bulk reschedule, configs, schedule slots)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from operations.errors import FieldError
from web.auth import login_redirect
from web.deps import current_staff
from web.pages import batches, bulk, configs, order_groups, single_ticket, slots, tickets
from web.security import Perm

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request):
    staff = await current_staff(request)
    if staff is None:
        return login_redirect(request)
    for perm, target in (
        (Perm.view_tickets, "/tickets"),
        (Perm.approve, "/approvals"),
        (Perm.view_slots, "/slots"),
        (Perm.desk, "/outages"),
    ):
        if staff.can(perm):
            return RedirectResponse(target, status_code=303)
    raise FieldError(403, "your account has no deskflow role yet; ask a Refresh Administrator")


# Flat, so that `router.routes` lists every page (include_router would nest them).
for resource in (tickets, batches, order_groups, bulk, configs, slots, single_ticket):
    router.routes.extend(resource.router.routes)
