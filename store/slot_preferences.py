"""Schedule Slot Preferences of a team: list, replace, add, edit, delete, with validation.

What the web app's preference editor (Schedule Slot Admins) calls. A team's list is
validated whole (`domain.slot_generation.preference_problems`): no weekend preference (slots
exist on business days only), slots within the calendar's business hours, one preference per
weekday and start, no two overlapping at the same location. A refused change writes nothing
and says what is wrong, per preference and field.

Changes only affect slots generated from now on: the nightly generation never rewrites
existing slots (seed 001: "Schedule Slot Changes are not immediately reflected").

Every function works in the caller's transaction (e.g. `store.db.session_scope`); the caller
commits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from domain.business_calendar import BusinessCalendar
from domain.slot_generation import WEEKDAY_NAMES, SlotRule, preference_problems
from store.tables import CalendarConfig, SlotPreference, SupportTeam

_HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")


class PreferenceInput(BaseModel):
    """One preference as the editor submits it. `weekday` is 0-6 (0 = Monday) or mon..sun."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    weekday: int = Field(ge=0, le=6)
    start: str
    length_minutes: int = Field(gt=0, le=24 * 60)
    capacity: int = Field(gt=0, le=1000)
    location: str = Field(min_length=1, max_length=500)

    @field_validator("weekday", mode="before")
    @classmethod
    def _weekday(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().isdigit():
            name = value.strip().lower()[:3]
            if name not in WEEKDAY_NAMES:
                raise ValueError(f"{value!r} is not a weekday (mon..sun or 0..6)")
            return WEEKDAY_NAMES.index(name)
        return value

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        if len(value) == 4 and value[1] == ":":
            value = "0" + value  # 9:00 -> 09:00
        if not _HHMM.fullmatch(value):
            raise ValueError(f'{value!r} is not a 24-hour "HH:MM" time')
        return value


class PreferenceView(BaseModel):
    """A stored preference, as the editor shows it."""

    id: int
    team_id: str
    weekday: int
    weekday_name: str
    start: str
    end: str
    length_minutes: int
    capacity: int
    location: str


class PreferenceProblem(BaseModel):
    index: int | None = Field(description="position in the submitted list; None: whole request")
    field: str
    message: str

    def __str__(self) -> str:
        where = "" if self.index is None else f"preference {self.index + 1}: "
        return f"{where}{self.field}: {self.message}"


class PreferenceError(ValueError):
    """The change was refused; nothing was written. `problems` says what and where."""

    def __init__(self, problems: list[PreferenceProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class UnknownTeam(LookupError):
    def __init__(self, team_id: str) -> None:
        super().__init__(f"no support team {team_id!r}")
        self.team_id = team_id


class UnknownPreference(LookupError):
    def __init__(self, team_id: str, pref_id: int) -> None:
        super().__init__(f"no slot preference {pref_id} of team {team_id!r}")


def _view(p: SlotPreference) -> PreferenceView:
    rule = _rule(p.team_id, p)
    return PreferenceView(
        id=p.id,
        team_id=p.team_id,
        weekday=p.weekday,
        weekday_name=WEEKDAY_NAMES[p.weekday],
        start=p.start,
        end=f"{rule.end:%H:%M}",
        length_minutes=p.length_minutes,
        capacity=p.capacity,
        location=p.location,
    )


def _rule(team_id: str, p: PreferenceInput | SlotPreference) -> SlotRule:
    return SlotRule(
        team_id=team_id,
        weekday=p.weekday,
        start=time.fromisoformat(p.start),
        length_minutes=p.length_minutes,
        capacity=p.capacity,
        location=p.location,
    )


def _team(session: Session, team_id: str) -> SupportTeam:
    team = session.get(SupportTeam, team_id)
    if team is None:
        raise UnknownTeam(team_id)
    return team


def _calendar(session: Session) -> BusinessCalendar | None:
    """Business hours to check against (no closed dates needed); None if none is loaded."""
    cfg = session.get(CalendarConfig, 1)
    if cfg is None:
        return None
    return BusinessCalendar(
        timezone=cfg.timezone,
        day_start=time.fromisoformat(cfg.business_start),
        day_end=time.fromisoformat(cfg.business_end),
    )


def parse_preferences(
    items: Sequence[PreferenceInput | Mapping[str, Any]],
) -> list[PreferenceInput]:
    """Validate each item's shape; every problem of every item is reported at once."""
    parsed: list[PreferenceInput] = []
    problems: list[PreferenceProblem] = []
    for i, item in enumerate(items):
        if isinstance(item, PreferenceInput):
            parsed.append(item)
            continue
        try:
            parsed.append(PreferenceInput.model_validate(dict(item)))
        except ValidationError as e:
            for err in e.errors():
                field = ".".join(str(x) for x in err["loc"]) or "(preference)"
                problems.append(
                    PreferenceProblem(
                        index=i, field=field, message=err["msg"].removeprefix("Value error, ")
                    )
                )
    if problems:
        raise PreferenceError(problems)
    return parsed


def check_preferences(
    session: Session, team_id: str, prefs: Sequence[PreferenceInput]
) -> list[PreferenceProblem]:
    """Problems of a team's complete preference list (empty: fine)."""
    rules = [_rule(team_id, p) for p in prefs]
    return [
        PreferenceProblem(index=i, field=field, message=message)
        for i, field, message in preference_problems(rules, _calendar(session))
    ]


def list_preferences(session: Session, team_id: str) -> list[PreferenceView]:
    """The team's preferences in (weekday, start) order. Raises UnknownTeam."""
    team = _team(session, team_id)
    prefs = sorted(team.slot_preferences, key=lambda p: (p.weekday, p.start, p.id))
    return [_view(p) for p in prefs]


def replace_preferences(
    session: Session, team_id: str, items: Sequence[PreferenceInput | Mapping[str, Any]]
) -> list[PreferenceView]:
    """Make the team's preferences exactly `items` (matched on weekday + start, so unchanged
    ones keep their ids). Raises PreferenceError (nothing written) or UnknownTeam."""
    team = _team(session, team_id)
    prefs = parse_preferences(items)
    problems = check_preferences(session, team_id, prefs)
    if problems:
        raise PreferenceError(problems)
    existing = {(p.weekday, p.start): p for p in team.slot_preferences}
    wanted = {(p.weekday, p.start): p for p in prefs}
    for key, row in existing.items():
        if key not in wanted:
            team.slot_preferences.remove(row)
    for key, p in wanted.items():
        row = existing.get(key)
        if row is None:
            row = SlotPreference(weekday=p.weekday, start=p.start)
            team.slot_preferences.append(row)
        row.length_minutes, row.capacity, row.location = p.length_minutes, p.capacity, p.location
    session.flush()
    return list_preferences(session, team_id)


def _current_inputs(team: SupportTeam) -> list[tuple[SlotPreference, PreferenceInput]]:
    return [
        (
            p,
            PreferenceInput(
                weekday=p.weekday,
                start=p.start,
                length_minutes=p.length_minutes,
                capacity=p.capacity,
                location=p.location,
            ),
        )
        for p in sorted(team.slot_preferences, key=lambda p: (p.weekday, p.start, p.id))
    ]


def _check_with(
    session: Session, team: SupportTeam, prefs: list[PreferenceInput], changed: int
) -> None:
    """Check the team's list with one preference added or changed, placed last (`changed`).

    `preference_problems` reports a clash of two preferences at the later one, so every
    problem involving the new one is at its index; problems among the others (say, loaded
    from YAML earlier) are not this request's fault and are not reported.
    """
    problems = [
        PreferenceProblem(index=None, field=p.field, message=p.message)
        for p in check_preferences(session, team.id, prefs)
        if p.index == changed
    ]
    if problems:
        raise PreferenceError(problems)


def add_preference(
    session: Session, team_id: str, item: PreferenceInput | Mapping[str, Any]
) -> PreferenceView:
    """Add one preference. Refused (PreferenceError) if it clashes with the team's others,
    including one at the same weekday and start (edit that one instead)."""
    team = _team(session, team_id)
    try:
        [pref] = parse_preferences([item])
    except PreferenceError as e:
        raise PreferenceError([p.model_copy(update={"index": None}) for p in e.problems]) from None
    current = [p for _, p in _current_inputs(team)]
    _check_with(session, team, [*current, pref], len(current))
    row = SlotPreference(
        weekday=pref.weekday,
        start=pref.start,
        length_minutes=pref.length_minutes,
        capacity=pref.capacity,
        location=pref.location,
    )
    team.slot_preferences.append(row)
    session.flush()
    return _view(row)


def edit_preference(
    session: Session, team_id: str, pref_id: int, changes: Mapping[str, Any]
) -> PreferenceView:
    """Change some fields of one preference (weekday, start, length_minutes, capacity,
    location). Raises UnknownPreference, or PreferenceError with nothing written."""
    team = _team(session, team_id)
    pairs = _current_inputs(team)
    index = next((i for i, (row, _) in enumerate(pairs) if row.id == pref_id), None)
    if index is None:
        raise UnknownPreference(team_id, pref_id)
    row, before = pairs[index]
    try:
        [after] = parse_preferences([{**before.model_dump(), **dict(changes)}])
    except PreferenceError as e:
        raise PreferenceError([p.model_copy(update={"index": None}) for p in e.problems]) from None
    others = [p for i, (_, p) in enumerate(pairs) if i != index]
    _check_with(session, team, [*others, after], len(others))
    row.weekday, row.start = after.weekday, after.start
    row.length_minutes, row.capacity, row.location = (
        after.length_minutes,
        after.capacity,
        after.location,
    )
    session.flush()
    return _view(row)


def delete_preference(session: Session, team_id: str, pref_id: int) -> None:
    """Remove one preference (its existing slots stay). Raises UnknownPreference."""
    team = _team(session, team_id)
    row = next((p for p in team.slot_preferences if p.id == pref_id), None)
    if row is None:
        raise UnknownPreference(team_id, pref_id)
    team.slot_preferences.remove(row)
    session.flush()
