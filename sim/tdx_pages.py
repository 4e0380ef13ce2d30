"""The TDX stand-in's pages for people: a ticket as TDNext shows it, and a list of tickets.

deskflow links every "TDX ticket 1000xx" to `TDNext/Apps/{app}/Tickets/TicketDet?TicketID=…`
on the TDX host, so the stand-in serves that exact path: the ticket's title, status (by its
TDX name), requestor, tasks and feed. A technician's two moves that deskflow waits for are
buttons there, as in TDX: mark a task complete (Deliver/Install means "installed") and close
the ticket. Both go through the same code as the API, so they are kept and seen by the next
poll. Pages are self-contained (no script, no style sheet from elsewhere) so they work offline.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from sim.tdx import FINISHED_CLASSES, STATUS_CLOSED, TdxSim

TDNEXT = "/TDNext/Apps/{app_id}/Tickets/TicketDet"
CONSOLE = "/_sim/tdx/console"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }}
th, td {{ text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #ddd;
  vertical-align: top; }}
th {{ background: #f4f4f4; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }}
dt {{ font-weight: 600; }} dd {{ margin: 0; }}
.muted {{ color: #777; }} .nowrap {{ white-space: nowrap; }}
form {{ display: inline; }} button {{ padding: .3rem .8rem; }}
pre {{ white-space: pre-wrap; margin: 0; font-family: inherit; }}
</style></head>
<body><p class="muted">TeamDynamix stand-in &middot; <a href="{console}">all tickets</a></p>
{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=html.escape(title), console=CONSOLE, body=body), status_code=status
    )


def ticket_path(app_id: int, ticket_id: int) -> str:
    return f"{TDNEXT.format(app_id=app_id)}?TicketID={ticket_id}"


def _when(stamp: str | None) -> str:
    """A TDX date as people read it (UTC, to the minute)."""
    if not stamp:
        return ""
    return html.escape(stamp.replace("T", " ")[:16] + " UTC")


def _not_found(app_id: int, raw_id: str) -> HTMLResponse:
    body = (
        "<h1>Ticket not found</h1>"
        f"<p>There is no ticket {html.escape(raw_id or '(none given)')} in application "
        f"{app_id}. It may never have been created here, or it belongs to another "
        f"application. <a href='{CONSOLE}'>See every ticket</a>.</p>"
    )
    return _page("Ticket not found", body, status=404)


def _task_rows(sim: TdxSim, ticket: dict[str, Any], open_ticket: bool) -> str:
    tasks = sorted(sim.tasks_for(ticket["ID"]), key=lambda t: (t["Order"], t["ID"]))
    if not tasks:
        return "<p class='muted'>No tasks.</p>"
    rows = []
    for task in tasks:
        done = task["PercentComplete"] >= 100
        if done:
            action = f"Completed {_when(task['CompletedDate'])}"
        elif open_ticket:
            action = (
                f"<form method='post' action='{TDNEXT.format(app_id=ticket['AppID'])}/"
                f"CompleteTask?TicketID={ticket['ID']}&amp;TaskID={task['ID']}'>"
                f"<button>Mark &ldquo;{html.escape(task['Title'])}&rdquo; complete</button>"
                "</form>"
            )
        else:
            action = "<span class='muted'>Ticket is closed</span>"
        rows.append(
            f"<tr><td>{html.escape(task['Title'])}</td>"
            f"<td class='nowrap'>{_when(task['StartDate'])}</td>"
            f"<td class='nowrap'>{_when(task['EndDate'])}</td>"
            f"<td>{task['PercentComplete']}%</td><td>{action}</td></tr>"
        )
    return (
        "<table><tr><th>Task</th><th>Starts</th><th>Ends</th><th>Complete</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _feed_rows(sim: TdxSim, ticket: dict[str, Any]) -> str:
    entries = [(entry, "") for entry in sim.feed.get(ticket["ID"], [])]
    for task in sim.tasks_for(ticket["ID"]):
        entries += [(entry, task["Title"]) for entry in sim.task_feed.get(task["ID"], [])]
    if not entries:
        return "<p class='muted'>Nothing in the feed yet.</p>"
    entries.sort(key=lambda pair: pair[0]["ID"], reverse=True)
    rows = "".join(
        f"<tr><td class='nowrap'>{_when(entry['CreatedDate'])}</td>"
        f"<td>{'Task &ldquo;' + html.escape(task) + '&rdquo;' if task else 'Ticket'}"
        f"{' (private)' if entry['IsPrivate'] else ''}</td>"
        f"<td><pre>{html.escape(entry['Body'] or '(status changed)')}</pre></td></tr>"
        for entry, task in entries
    )
    return f"<table><tr><th>When</th><th>On</th><th>Update</th></tr>{rows}</table>"


def _ticket_page(sim: TdxSim, ticket: dict[str, Any]) -> HTMLResponse:
    open_ticket = ticket["StatusClass"] not in FINISHED_CLASSES
    requestor = ticket["RequestorName"] or "(no requestor)"
    if ticket["RequestorEmail"]:
        requestor += f" <{ticket['RequestorEmail']}>"
    close = (
        f"<form method='post' action='{TDNEXT.format(app_id=ticket['AppID'])}/"
        f"Close?TicketID={ticket['ID']}'><button>Close ticket</button></form>"
        if open_ticket
        else ""
    )
    facts = [
        ("Status", f"{html.escape(ticket['StatusName'])} {close}"),
        ("Type", html.escape(ticket["ClassificationName"])),
        ("Requestor", html.escape(requestor)),
        (
            "Location",
            html.escape(
                " ".join(filter(None, [ticket["LocationName"], ticket["LocationRoomName"]]))
            ),
        ),
        ("Created", _when(ticket["CreatedDate"])),
        ("Modified", _when(ticket["ModifiedDate"])),
    ]
    if ticket["CompletedDate"]:
        facts.append(("Completed", _when(ticket["CompletedDate"])))
    body = (
        f"<h1>Ticket {ticket['ID']}: {html.escape(ticket['Title'])}</h1>"
        "<dl>" + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts) + "</dl>"
        f"<h2>Description</h2><pre>{html.escape(ticket['Description'] or '')}</pre>"
        f"<h2>Tasks</h2>{_task_rows(sim, ticket, open_ticket)}"
        f"<h2>Feed</h2>{_feed_rows(sim, ticket)}"
    )
    return _page(f"Ticket {ticket['ID']}: {ticket['Title']}", body)


def _find(sim: TdxSim, app_id: int, raw_id: str) -> dict[str, Any] | None:
    ticket = sim.tickets.get(int(raw_id)) if raw_id.strip().isdigit() else None
    return ticket if ticket is not None and ticket["AppID"] == app_id else None


def build_router(sim: TdxSim) -> APIRouter:
    """The ticket page at TDNext's path, its two buttons, and the list of all tickets."""
    router = APIRouter(include_in_schema=False)

    @router.get(TDNEXT, response_class=HTMLResponse)
    async def ticket_page(app_id: int, TicketID: str = "") -> HTMLResponse:  # noqa: N803
        ticket = _find(sim, app_id, TicketID)
        return _not_found(app_id, TicketID) if ticket is None else _ticket_page(sim, ticket)

    @router.post(TDNEXT + "/CompleteTask", response_model=None)
    async def complete_task(
        app_id: int,
        TicketID: str = "",  # noqa: N803
        TaskID: str = "",  # noqa: N803
    ) -> HTMLResponse | RedirectResponse:
        ticket = _find(sim, app_id, TicketID)
        if ticket is None:
            return _not_found(app_id, TicketID)
        task = sim.tasks.get(int(TaskID)) if TaskID.isdigit() else None
        if task is None or task["TicketID"] != ticket["ID"]:
            missing = html.escape(TaskID)
            body = f"<h1>Task not found</h1><p>Ticket {ticket['ID']} has no task {missing}.</p>"
            return _page("Task not found", body, status=404)
        if task["PercentComplete"] < 100:
            sim.add_task_feed(
                app_id,
                ticket["ID"],
                task["ID"],
                {"PercentComplete": 100, "Comments": "Marked complete by a technician."},
            )
        return RedirectResponse(ticket_path(app_id, ticket["ID"]), status_code=303)

    @router.post(TDNEXT + "/Close", response_model=None)
    async def close_ticket(
        app_id: int,
        TicketID: str = "",  # noqa: N803
    ) -> HTMLResponse | RedirectResponse:
        ticket = _find(sim, app_id, TicketID)
        if ticket is None:
            return _not_found(app_id, TicketID)
        if ticket["StatusClass"] not in FINISHED_CLASSES:
            sim.add_ticket_feed(
                app_id,
                ticket["ID"],
                {"NewStatusID": STATUS_CLOSED, "Comments": "Closed by a technician."},
            )
        return RedirectResponse(ticket_path(app_id, ticket["ID"]), status_code=303)

    @router.get(CONSOLE, response_class=HTMLResponse)
    async def console() -> HTMLResponse:
        tickets = sorted(sim.tickets.values(), key=lambda t: t["ID"], reverse=True)
        rows = "".join(
            f"<tr><td><a href='{html.escape(ticket_path(t['AppID'], t['ID']))}'>{t['ID']}</a>"
            f"</td><td>{html.escape(t['Title'])}</td><td>{html.escape(t['StatusName'])}</td>"
            f"<td>{html.escape(t['RequestorName'])}</td>"
            f"<td class='nowrap'>{_when(t['ModifiedDate'])}</td></tr>"
            for t in tickets
        )
        table = (
            "<table><tr><th>Ticket</th><th>Title</th><th>Status</th><th>Requestor</th>"
            f"<th>Modified</th></tr>{rows}</table>"
            if tickets
            else "<p class='muted'>No tickets yet.</p>"
        )
        return _page("TDX tickets", f"<h1>TDX tickets</h1>{table}")

    return router
