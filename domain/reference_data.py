"""The reference data file (`deskflow load FILE`): its shape, and the checks across its parts.

Reference data (calendar, support teams and their slot preferences, refresh configs, staff)
is declared in YAML and loaded whole or not at all. The models here describe one file and
reject unknown fields, so a typo is an error rather than a silently ignored setting.
`consistency_problems` adds the rules that span fields or entries (unique ids, a config's
team must exist, ...); both report locations as field paths that the loader turns into
file line numbers.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Set as AbstractSet
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails

from domain.after_hours import AfterHoursSpec
from domain.business_calendar import BusinessCalendar
from domain.outages import OutagesSpec
from domain.partner_triage import PartnerTriageSpec
from domain.provisioning import ProvisioningSpec
from domain.refresh import ApprovedModel, Approver, RefreshOptions
from domain.service_desk import ServiceDeskSpec
from domain.slot_generation import SlotRule, preference_problems

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""YAML weekday names; the index is Python's `date.weekday()` (0 = Monday), as stored."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Style = Literal["on_prem", "remote", "unit_location", "no_customer"]
Platform = Literal["windows", "mac"]
Role = Literal[
    "refresh_admin",
    "refresh_manager",
    "slot_admin",
    "approver",
    # provisioning intake (seed 000)
    "procurement",
    "care_team",
    "provisioning_specialist",
    "analyst",
    "desk_manager",
    # after hours, outages and triage (seeds 003, 004)
    "help_desk",
    "hdqa",
    "sncc",
]

Loc = tuple[str | int, ...]
"""A field path into the file, as pydantic reports it: ("support_teams", 0, "id")."""

_HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")


def _hhmm(value: object) -> object:
    """Accept "HH:MM" (24-hour) strings only.

    YAML 1.1 reads an unquoted 10:30 as the base-60 number 630, which would otherwise
    surface as a baffling "not a string" error, so that case gets its own hint.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(
            f'write times as quoted "HH:MM" strings (YAML read an unquoted time as {value})'
        )
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise ValueError(f'{value!r} is not a 24-hour "HH:MM" time')
    return value


def _iso_day(value: object) -> object:
    """Accept dates and ISO date strings, not numbers (which pydantic reads as timestamps)."""
    if not isinstance(value, date | str):
        raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


def _country(value: str) -> str:
    if value not in holidays.list_supported_countries():
        raise ValueError(f"{value!r} is not a country code the holidays package knows")
    return value


HHMM = Annotated[str, BeforeValidator(_hhmm)]
Day = Annotated[date, BeforeValidator(_iso_day)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class _Spec(BaseModel):
    """Base of every block: unknown fields are errors, values are immutable once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BusinessHours(_Spec):
    start: HHMM
    end: HHMM


class CalendarSpec(_Spec):
    """When the service desk works; drives invite timing and business-day counting."""

    timezone: Annotated[str, AfterValidator(_timezone)]
    business_hours: BusinessHours
    country_holidays: Annotated[str, AfterValidator(_country)] | None = None
    closed_days: list[Day] = Field(default_factory=list)


class SlotPreferenceSpec(_Spec):
    """A weekly slot template of a team (seed 001 "Schedule Slot Preferences")."""

    weekday: Weekday
    start: HHMM
    length_minutes: int = Field(gt=0, le=24 * 60)
    capacity: int = Field(gt=0, le=1000)
    location: Text


class SupportTeamSpec(_Spec):
    id: Slug
    name: Text
    slack_channel: Annotated[str, StringConstraints(pattern=r"^#?[a-z0-9][a-z0-9_-]{0,79}$")]
    default_location: Text
    slot_preferences: list[SlotPreferenceSpec] = Field(default_factory=list)


# An approver and an approved model as the file must give them: the workflow's own models
# (domain.refresh), with every field checked as strictly as the rest of the file. The
# wizard's options are the workflow's `RefreshOptions` as they are.
_SPEC_OF = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class ApproverSpec(Approver):
    model_config = _SPEC_OF

    uniqname: Slug
    name: Text
    email: EmailStr


class ApprovedModelSpec(ApprovedModel):
    model_config = _SPEC_OF

    org: Text
    platform: Platform
    model: Text


class ProposedModels(_Spec):
    """The model proposed to a customer, by the platform of their existing system."""

    windows: Text
    mac: Text


class RefreshConfigSpec(_Spec):
    """A refresh campaign's parameters; mirrors the `refresh_config` table."""

    id: Slug
    name: Text
    org: Text
    default_style: Style
    requires_approval: bool = False
    approvers: list[ApproverSpec] = Field(default_factory=list)
    options: RefreshOptions = Field(default_factory=RefreshOptions)
    approved_models: list[ApprovedModelSpec] = Field(default_factory=list)
    proposed_models: ProposedModels
    peripheral_bundle: list[Text] = Field(default_factory=list)
    peripheral_catalog: list[Text] = Field(default_factory=list)
    software_catalog: list[Text] = Field(default_factory=list)
    unit_location: Text | None = None
    prestage_group: Text | None = None
    support_team: Slug | None = None


class StaffSpec(_Spec):
    """A staff login. Give `password` (hashed on load) or an already made `password_hash`
    (from `store.reference.hash_password`), so production files need hold no plain text."""

    username: Slug
    name: Text
    email: EmailStr
    roles: list[Role] = Field(min_length=1)
    password: Annotated[str, StringConstraints(min_length=8)] | None = None
    password_hash: str | None = None
    # true: cannot sign in, sessions end at once; omitted: left as it is (`deskflow staff`).
    disabled: bool | None = None


class ReferenceData(_Spec):
    """One reference data file. Every block is optional: a file may update only some kinds."""

    calendar: CalendarSpec | None = None
    support_teams: list[SupportTeamSpec] = Field(default_factory=list)
    refresh_configs: list[RefreshConfigSpec] = Field(default_factory=list)
    staff: list[StaffSpec] = Field(default_factory=list)
    service_desk: ServiceDeskSpec | None = None
    provisioning: ProvisioningSpec | None = None
    after_hours: AfterHoursSpec | None = None
    outages: OutagesSpec | None = None
    partner_triage: PartnerTriageSpec | None = None


def _duplicates(values: list[Any]) -> set[Any]:
    return {value for value, count in Counter(values).items() if count > 1}


def _slot_rule(team_id: str, pref: SlotPreferenceSpec) -> SlotRule:
    return SlotRule(
        team_id=team_id,
        weekday=WEEKDAYS.index(pref.weekday),
        start=time.fromisoformat(pref.start),
        length_minutes=pref.length_minutes,
        capacity=pref.capacity,
        location=pref.location,
    )


def _business_calendar(spec: CalendarSpec | None) -> BusinessCalendar | None:
    if spec is None:
        return None
    return BusinessCalendar(
        timezone=spec.timezone,
        day_start=time.fromisoformat(spec.business_hours.start),
        day_end=time.fromisoformat(spec.business_hours.end),
    )


def consistency_problems(
    data: ReferenceData,
    existing_team_ids: frozenset[str] = frozenset(),
    existing_calendar: BusinessCalendar | None = None,
) -> list[tuple[Loc, str]]:
    """Rules that span fields or entries, as (field path, message) pairs; empty means fine.

    `existing_team_ids` are teams already in the database, which a config may name without
    the file declaring them again; `existing_calendar` is the database's calendar, whose
    business hours bound slot preferences when the file declares no calendar of its own.
    """
    problems: list[tuple[Loc, str]] = []
    calendar = _business_calendar(data.calendar) or existing_calendar

    if data.calendar is not None:
        hours = data.calendar.business_hours
        if hours.end <= hours.start:
            problems.append(
                (("calendar", "business_hours", "end"), f"must be after start ({hours.start})")
            )

    team_dups = _duplicates([team.id for team in data.support_teams])
    for i, team in enumerate(data.support_teams):
        if team.id in team_dups:
            problems.append((("support_teams", i, "id"), f"duplicate team id {team.id!r}"))
        # The preference editor's own rules (no weekend, within business hours, no clash).
        problems.extend(
            (("support_teams", i, "slot_preferences", j, field), message)
            for j, field, message in preference_problems(
                [_slot_rule(team.id, pref) for pref in team.slot_preferences], calendar
            )
        )

    known_teams = existing_team_ids | {team.id for team in data.support_teams}
    config_dups = _duplicates([config.id for config in data.refresh_configs])
    for i, config in enumerate(data.refresh_configs):
        config_problems = _config_problems(
            config, duplicate=config.id in config_dups, known_teams=known_teams
        )
        problems.extend((("refresh_configs", i, *loc), msg) for loc, msg in config_problems)

    user_dups = _duplicates([user.username for user in data.staff])
    for i, user in enumerate(data.staff):
        if user.username in user_dups:
            problems.append((("staff", i, "username"), f"duplicate username {user.username!r}"))
        if (user.password is None) == (user.password_hash is None):
            problems.append((("staff", i), "give exactly one of password or password_hash"))
        for dup in sorted(_duplicates(list(user.roles))):
            problems.append((("staff", i, "roles"), f"role {dup!r} listed twice"))
    return problems


def refresh_config_problems(
    raw: Any, known_teams: AbstractSet[str]
) -> tuple[RefreshConfigSpec | None, list[tuple[Loc, str]]]:
    """One refresh config as the web editor submits it, checked by the loader's own rules.

    The same model and the same cross-field rules as a config in a reference data file,
    so the editor and `deskflow load` refuse the same configs with the same messages.
    Returns the config (None if its shape is wrong) and the problems, paths relative to it.
    """
    try:
        config = RefreshConfigSpec.model_validate(raw)
    except ValidationError as exc:
        return None, [(tuple(err["loc"]), error_message(err)) for err in exc.errors()]
    return config, _config_problems(config, duplicate=False, known_teams=known_teams)


def error_message(error: ErrorDetails) -> str:
    """Pydantic's message, without the "Value error, " prefix our own validators get."""
    if error["type"] == "value_error":
        return error["msg"].removeprefix("Value error, ")
    return error["msg"]


def _config_problems(
    config: RefreshConfigSpec, *, duplicate: bool, known_teams: AbstractSet[str]
) -> list[tuple[Loc, str]]:
    """The cross-field rules of one refresh config (paths relative to the config)."""
    problems: list[tuple[Loc, str]] = []
    if duplicate:
        problems.append((("id",), f"duplicate refresh config id {config.id!r}"))
    if config.requires_approval and not config.approvers:
        problems.append((("requires_approval",), "is true but no approver is named"))
    approver_dups = _duplicates([approver.uniqname for approver in config.approvers])
    for j, approver in enumerate(config.approvers):
        if approver.uniqname in approver_dups:
            problems.append(
                (("approvers", j, "uniqname"), f"approver {approver.uniqname!r} listed twice")
            )
    if config.default_style == "unit_location" and config.unit_location is None:
        problems.append((("unit_location",), "required when default_style is unit_location"))
    if config.default_style != "unit_location" and config.unit_location is not None:
        problems.append((("unit_location",), "only unit_location configs have a unit location"))
    for platform in ("windows", "mac"):
        approved = [m.model for m in config.approved_models if m.platform == platform]
        proposed = getattr(config.proposed_models, platform)
        if approved and proposed not in approved:
            problems.append(
                (
                    ("proposed_models", platform),
                    f"{proposed!r} is not an approved {platform} model of this config",
                )
            )
    catalog = set(config.peripheral_catalog)
    for j, item in enumerate(config.peripheral_bundle):
        if item not in catalog:
            problems.append((("peripheral_bundle", j), f"{item!r} is not in peripheral_catalog"))
    if config.support_team is not None and config.support_team not in known_teams:
        problems.append(
            (
                ("support_team",),
                f"unknown support team {config.support_team!r} (not in this file or the database)",
            )
        )
    return problems
