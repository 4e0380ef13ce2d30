"""Support teams: their appointment slots, calendar feeds and Schedule Slot Preferences."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from operations.errors import not_found
from store.slot_preferences import PreferenceInput, PreferenceView
from web import actions, queries, schemas
from web.deps import App, SlotAdmin, SlotViewer
from web.responses import TeamOut, TeamSlot

router = APIRouter(prefix="/api/teams", tags=["teams and slots"])


@router.get("", summary="Support teams, with the address of each one's calendar feed")
async def list_teams(_: SlotViewer, app: App) -> list[TeamOut]:
    return [
        TeamOut(
            id=t.id,
            name=t.name,
            default_location=t.default_location,
            ics=f"/teams/{t.id}/slots.ics?key={app.tokens.feed_key(t.id)}",
        )
        for t in await app.read(queries.teams)
    ]


@router.get("/{team_id}/slots", summary="A team's coming slots and the tickets booked on each")
async def team_slots(
    team_id: str,
    _: SlotViewer,
    app: App,
    start: Annotated[datetime | None, Query(description="from (default: now)")] = None,
    days: Annotated[int, Query(ge=1, le=120)] = 35,
) -> list[TeamSlot]:
    if await app.read(queries.team, team_id) is None:
        raise not_found(f"no support team {team_id}")
    begin = (
        start
        if start is not None and start.tzinfo
        else (start.replace(tzinfo=app.tz) if start else app.now())
    )
    found = await app.read(queries.team_calendar, team_id, begin, begin + timedelta(days=days))
    return [TeamSlot.booked_by(s, t) for s, t in found]


@router.get("/{team_id}/preferences", summary="A team's Schedule Slot Preferences")
async def preferences(team_id: str, _: SlotViewer, app: App) -> list[PreferenceView]:
    return await actions.list_preferences(app, team_id)


@router.post(
    "/{team_id}/preferences",
    status_code=201,
    summary="Add a weekly slot preference (Schedule Slot Admin)",
)
async def add_preference(
    team_id: str, body: PreferenceInput, _: SlotAdmin, app: App
) -> PreferenceView:
    return await actions.add_preference(app, team_id, body.model_dump())


@router.patch(
    "/{team_id}/preferences/{pref_id}", summary="Change a slot preference (Schedule Slot Admin)"
)
async def edit_preference(
    team_id: str, pref_id: int, body: schemas.PreferenceChanges, _: SlotAdmin, app: App
) -> PreferenceView:
    changes = body.model_dump(exclude_none=True)
    return await actions.edit_preference(app, team_id, pref_id, changes)


@router.delete(
    "/{team_id}/preferences/{pref_id}",
    status_code=204,
    summary="Remove a slot preference (Schedule Slot Admin)",
)
async def delete_preference(team_id: str, pref_id: int, _: SlotAdmin, app: App) -> Response:
    await actions.delete_preference(app, team_id, pref_id)
    return Response(status_code=204)
