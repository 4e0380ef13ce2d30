"""Staff pages of schedule slots: the calendar, deleting a slot, slot preferences, the
team's ICS feed."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from operations.errors import FieldError, not_found
from web import actions, forms, queries
from web.deps import App, SlotAdmin, SlotViewer, WebApp, current_staff
from web.pages.render import page
from web.security import Perm

router = APIRouter(include_in_schema=False)
CALENDAR_WEEKS = 5


def feed_url(app: WebApp, team_id: str) -> str:
    return f"{app.settings.public_url}/teams/{team_id}/slots.ics?key={app.tokens.feed_key(team_id)}"


def _week_start(app: WebApp, start: date | None) -> datetime:
    """Midnight (local) of the Monday of `start`'s week, or of this week."""
    day = start or app.now().astimezone(app.tz).date()
    monday = day - timedelta(days=day.weekday())
    return datetime.combine(monday, time(0), tzinfo=app.tz)


async def _slots_page(
    app, request, staff, team_id, errors=None, values=None, status=200, start: date | None = None
) -> Response:
    teams = await app.read(queries.teams)
    team = next((t for t in teams if t.id == team_id), teams[0] if teams and not team_id else None)
    if team_id and team is None:
        raise not_found(f"no support team {team_id}")
    days: list[tuple[str, list]] = []
    prefs = []
    begin = _week_start(app, start)
    if team is not None:
        end = begin + timedelta(weeks=CALENDAR_WEEKS)
        found = await app.read(queries.team_calendar, team.id, begin, end)
        by_day: dict[str, list] = defaultdict(list)
        for slot, booked in found:
            by_day[app.day(slot.start_at)].append((slot, booked))
        days = list(by_day.items())
        prefs = await actions.list_preferences(app, team.id)
    notice = None
    if request.query_params.get("done") == "deleted":
        n = request.query_params.get("notified", "0")
        notice = f"Slot deleted; {n} customer(s) asked to reschedule."
    elif request.query_params.get("done") == "preference":
        notice = "Preferences saved; new slots follow them from the next nightly run."
    return page(
        app,
        request,
        "staff/slots.html",
        staff,
        status,
        teams=[(t.id, t.name) for t in teams],
        team=team,
        days=days,
        prefs=prefs,
        weeks=CALENDAR_WEEKS,
        weekdays=queries.WEEKDAYS,
        weekday_choices=list(enumerate(queries.WEEKDAYS)),
        ics_url=feed_url(app, team.id) if team else None,
        begin=begin,
        earlier=(begin - timedelta(weeks=CALENDAR_WEEKS)).date().isoformat(),
        later=(begin + timedelta(weeks=CALENDAR_WEEKS)).date().isoformat(),
        errors=errors or {},
        values=values or {},
        notice=notice,
    )


@router.get("/slots", response_class=HTMLResponse)
async def slots_page(
    request: Request,
    staff: SlotViewer,
    app: App,
    team: str | None = None,
    start: date | None = None,
):
    return await _slots_page(app, request, staff, team, start=start)


@router.post("/slots/{slot_id}/delete")
async def slot_delete(slot_id: int, staff: SlotAdmin, app: App):
    slot = await app.read(queries.slot, slot_id)
    if slot is None:
        raise not_found(f"no slot {slot_id}")
    result = await actions.delete_slot(app, staff, slot_id)
    week = slot.start_at.astimezone(app.tz).date().isoformat()
    query = urlencode(
        {
            "team": slot.team_id,
            "start": week,
            "done": "deleted",
            "notified": len(result["notified"]),
        }
    )
    return RedirectResponse(f"/slots?{query}", status_code=303)


@router.post("/teams/{team_id}/preferences")
async def preference_add(request: Request, team_id: str, staff: SlotAdmin, app: App):
    form = await request.form()
    values = {
        k: str(form.get(k, ""))
        for k in ("weekday", "start", "length_minutes", "capacity", "location")
    }
    try:
        await actions.add_preference(app, team_id, forms.nested(form))
    except FieldError as e:
        if e.status != 422:
            raise
        return await _slots_page(app, request, staff, team_id, e.errors, values, 422)
    return RedirectResponse(f"/slots?team={team_id}&done=preference", status_code=303)


@router.post("/teams/{team_id}/preferences/{pref_id}/delete")
async def preference_delete(team_id: str, pref_id: int, staff: SlotAdmin, app: App):
    await actions.delete_preference(app, team_id, pref_id)
    return RedirectResponse(f"/slots?team={team_id}&done=preference", status_code=303)


@router.get("/teams/{team_id}/slots.ics")
async def slots_ics(request: Request, team_id: str, app: App, key: str | None = None):
    """A team's slot feed: for staff signed in, or with the subscription key from /slots."""
    if not app.tokens.feed_key_ok(key, team_id):
        staff = await current_staff(request)
        if staff is None:
            raise FieldError(
                403, "this calendar link needs its key; copy it from the Schedule slots page"
            )
        if not staff.can(Perm.view_slots):
            raise FieldError(403, "you do not have the role this needs")
    body = await actions.team_feed(app, team_id)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
