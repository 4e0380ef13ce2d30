"""Staff console: "Tickets under SLA", every service-desk ticket's clock (seed 002).

Read from the `sla_clock` projection that each `SlaClock` writes, soonest due first, with
its state, working time left and due instants in the desk's words. The Temporal UI finds the
same clocks with `SlaState` and `SlaDueAt`; the page links there.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from domain.sla import SlaState
from store import service_desk as desk_store
from web.deps import WebApp, staff_with, web_app
from web.security import Perm, Staff

router = APIRouter(include_in_schema=False)
APP = Depends(web_app)
VIEW = Depends(staff_with(Perm.view_tickets))
STATE_WORDS = {
    "running": "On track",
    "paused": "Paused (on hold)",
    "warning": "Warning",
    "breached": "Breached",
    "met": "Met",
}


def left(seconds: int | None) -> str:
    """Working time left, in hours and minutes; "overdue by" once negative."""
    if seconds is None:
        return "—"
    minutes = abs(seconds) // 60
    text = str(timedelta(minutes=minutes))[:-3].replace(":", " h ") + " min"
    return f"overdue by {text}" if seconds < 0 else text


@router.get("/sla", response_class=HTMLResponse)
async def sla_page(
    request: Request,
    state: str | None = None,
    staff: Staff = VIEW,
    app: WebApp = APP,
):
    state = state if state in SlaState.__members__ else None
    rows = await app.read(desk_store.sla_rows, state)
    query = quote("WorkflowType='SlaClock' AND SlaState='warning' ORDER BY SlaDueAt")
    return app.templates.TemplateResponse(
        request,
        "staff/sla.html",
        {
            "staff": staff,
            "rows": rows,
            "state": state,
            "states": STATE_WORDS,
            "left": left,
            "temporal_search": f"{app.settings.temporal_ui_url}/namespaces/"
            f"{app.settings.temporal_namespace}/workflows?query={query}",
        },
    )
