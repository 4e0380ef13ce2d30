"""`deskflow load FILE`: validate a reference data YAML file whole, then upsert it.

A bad file is refused whole, with every problem located as "FILE:LINE: field.path:
message", and nothing is written: reference data is read by running workflows, so a
half-loaded file (a team without its slots, a config without its approvers) would be worse
than none. Loading the same file twice changes nothing, so operators can re-run it freely;
the report says what was created, updated, unchanged or deleted. A load adds and updates;
rows the file no longer lists (a slot preference a Schedule Slot Admin added in the console)
are kept and counted unless the load was asked to `prune` them, so re-loading the demo file
never deletes what people made.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.business_calendar import BusinessCalendar
from domain.reference_data import (
    WEEKDAYS,
    CalendarSpec,
    Loc,
    ReferenceData,
    RefreshConfigSpec,
    StaffSpec,
    SupportTeamSpec,
    consistency_problems,
    error_message,
)
from domain.refresh import ConfigView
from store.config_history import LOADER, save_config
from store.staff_sessions import revoke_all
from store.tables import (
    AfterHoursConfig,
    Base,
    CalendarConfig,
    ProcessConfig,
    ProvisioningConfig,
    RefreshConfig,
    ServiceDeskConfig,
    SlotPreference,
    StaffUser,
    SupportTeam,
)

# scrypt cost: 2**14 x 8 uses 16 MiB and ~50 ms per hash, the usual interactive-login setting.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _SCRYPT_LEN = 2**14, 8, 1, 32


def hash_password(password: str) -> str:
    """Hash a staff password with scrypt and a random salt.

    The result is self-describing ("scrypt$n$r$p$salt$key", hex) so the cost can be raised
    later without invalidating stored hashes.
    """
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_SCRYPT_LEN
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${key.hex()}"


def _parse_hash(stored_hash: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored_hash.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = bytes.fromhex(parts[4]), bytes.fromhex(parts[5])
    except ValueError:
        return None
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or not salt or not key:
        return None
    return n, r, p, salt, key


def verify_password(stored_hash: str, password: str) -> bool:
    """True if `password` matches `stored_hash` (from `hash_password`); False, never an
    exception, for a wrong password or a malformed hash, so a login page needs one check."""
    parsed = _parse_hash(stored_hash)
    if parsed is None:
        return False
    n, r, p, salt, key = parsed
    try:
        candidate = hashlib.scrypt(
            password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(key), maxmem=2**26
        )
    except ValueError:  # parameters beyond what this machine allows
        return False
    return hmac.compare_digest(candidate, key)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a reference data file, at a line of it."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.path}: {self.message}"


class ReferenceDataError(Exception):
    """The file was refused; `problems` lists each fault, the message one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


@dataclass
class KindCounts:
    """What a load did to the rows of one kind."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    kept: int = 0  # rows the file does not list, left alone because the load did not prune


KINDS = (
    "calendar",
    "support_teams",
    "slot_preferences",
    "refresh_configs",
    "staff",
    "service_desk",
    "provisioning",
    "after_hours",
    "outages",
    "partner_triage",
)


@dataclass
class LoadReport:
    """Per kind (see KINDS), how many rows were created, updated, unchanged or deleted."""

    counts: dict[str, KindCounts] = field(default_factory=lambda: {k: KindCounts() for k in KINDS})
    # config id -> its new version, for the configs this load edited (running tickets reload)
    edited_configs: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether the load wrote anything at all."""
        return any(c.created or c.updated or c.deleted for c in self.counts.values())

    @property
    def kept(self) -> int:
        """Rows the file no longer lists that this load left in place (see `prune`)."""
        return sum(c.kept for c in self.counts.values())

    def __str__(self) -> str:
        lines = [
            f"{kind}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged"
            + (f", {c.deleted} deleted" if c.deleted else "")
            + (f", {c.kept} not in the file kept" if c.kept else "")
            for kind, c in self.counts.items()
        ]
        if self.kept:
            rows = "1 row" if self.kept == 1 else f"{self.kept} rows"
            them = "it" if self.kept == 1 else "them"
            lines.append(f"{rows} not in the file kept; --prune deletes {them}")
        return "\n".join(lines)


# --- reading and locating -------------------------------------------------------------------


def _format_loc(loc: Loc) -> str:
    """("support_teams", 0, "id") -> "support_teams[0].id"; the empty path is "(root)"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def _line_of(root: yaml.Node | None, loc: Loc) -> int:
    """The 1-based line of the deepest node `loc` reaches (a missing field: its parent)."""
    if root is None:
        return 1
    node: yaml.Node = root
    line = node.start_mark.line
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    line = key_node.start_mark.line
                    child = value_node
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
            line = child.start_mark.line
        if child is None:
            break
        node = child
    return line + 1


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> list[Loc]:
    """Keys repeated within one mapping, which YAML loaders silently collapse to the last."""
    found: list[Loc] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                found.append((*loc, key))
            seen.add(key)
            found.extend(_duplicate_keys(value_node, (*loc, key)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found.extend(_duplicate_keys(item, (*loc, index)))
    return found


def _read(path: Path) -> tuple[yaml.Node | None, Any]:
    """Parse once, keeping both the node tree (for line numbers) and the plain data."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferenceDataError([Problem(name, 1, "(file)", f"cannot read: {exc}")]) from exc
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        message = f"invalid YAML: {exc.problem or exc.context}"
        raise ReferenceDataError([Problem(name, line, "(yaml)", message)]) from exc
    except yaml.YAMLError as exc:
        raise ReferenceDataError([Problem(name, 1, "(yaml)", f"invalid YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    return root, data


_ITEM_SPECS: dict[str, type[BaseModel]] = {
    "support_teams": SupportTeamSpec,
    "refresh_configs": RefreshConfigSpec,
    "staff": StaffSpec,
}


def _valid_parts(raw: Any) -> tuple[ReferenceData, dict[str, list[int]]]:
    """The entries of an invalid file that are valid on their own, and where each came from.

    Lets the cross checks run on a file with shape errors too, so one run reports every
    problem instead of revealing them one layer at a time.
    """
    if not isinstance(raw, dict):
        return ReferenceData(), {}
    parts: dict[str, Any] = {}
    positions: dict[str, list[int]] = {}
    with suppress(ValidationError):
        parts["calendar"] = ReferenceData.model_validate({"calendar": raw.get("calendar")}).calendar
    for kind, spec in _ITEM_SPECS.items():
        items = raw.get(kind)
        parts[kind], positions[kind] = [], []
        for index, item in enumerate(items if isinstance(items, list) else []):
            with suppress(ValidationError):
                parts[kind].append(spec.model_validate(item))
                positions[kind].append(index)
    return ReferenceData.model_construct(**parts), positions


def _declared_team_ids(raw: Any) -> frozenset[str]:
    """Team ids the file declares, even in entries that are otherwise invalid, so a config
    naming such a team is not also reported as naming an unknown one."""
    teams = raw.get("support_teams") if isinstance(raw, dict) else None
    return frozenset(
        team["id"]
        for team in (teams if isinstance(teams, list) else [])
        if isinstance(team, dict) and isinstance(team.get("id"), str)
    )


def stored_business_hours(session: Session) -> BusinessCalendar | None:
    """The loaded calendar's zone and business hours (what bounds slot preferences)."""
    row = session.get(CalendarConfig, 1)
    if row is None:
        return None
    return BusinessCalendar(
        timezone=row.timezone,
        day_start=time.fromisoformat(row.business_start),
        day_end=time.fromisoformat(row.business_end),
    )


def parse_reference_file(path: str | Path, session: Session) -> ReferenceData:
    """Read and check a reference data file without writing anything.

    `session` is only read (teams already in the database may be named by configs).
    Raises ReferenceDataError listing every problem found.
    """
    path = Path(path)
    name = str(path)
    root, raw = _read(path)

    def problem(loc: Loc, message: str) -> Problem:
        return Problem(name, _line_of(root, loc), _format_loc(loc), message)

    if root is None or raw is None:
        raise ReferenceDataError(
            [problem((), "the file is empty; expected calendar, support_teams, ...")]
        )
    problems = [problem(loc, "key appears twice in this mapping") for loc in _duplicate_keys(root)]
    positions: dict[str, list[int]] = {}
    try:
        data = ReferenceData.model_validate(raw)
    except ValidationError as exc:
        problems += [problem(tuple(err["loc"]), error_message(err)) for err in exc.errors()]
        data, positions = _valid_parts(raw)

    def at(loc: Loc) -> Loc:
        """Map a path into `data` back to the file when invalid entries were left out."""
        kind = loc[0]
        if len(loc) > 1 and isinstance(kind, str) and kind in positions:
            return (kind, positions[kind][int(loc[1])], *loc[2:])
        return loc

    known_teams = frozenset(session.scalars(select(SupportTeam.id))) | _declared_team_ids(raw)
    calendar = stored_business_hours(session)
    problems += [
        problem(at(loc), msg) for loc, msg in consistency_problems(data, known_teams, calendar)
    ]
    for i, user in enumerate(data.staff):
        if user.password_hash is not None and _parse_hash(user.password_hash) is None:
            problems.append(
                problem(at(("staff", i, "password_hash")), "not a hash made by hash_password")
            )
    if problems:
        raise ReferenceDataError(sorted(problems, key=lambda p: p.line))
    return data


# --- writing --------------------------------------------------------------------------------


def _apply(row: Base, values: dict[str, Any]) -> bool:
    """Set `values` on `row`; True if any differed (so unchanged rows are not rewritten)."""
    changed = False
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _upsert(
    session: Session, model: type[Base], key: Any, values: dict[str, Any], counts: KindCounts
) -> Any:
    row = session.get(model, key)
    if row is None:
        row = model(**values)
        session.add(row)
        counts.created += 1
    elif _apply(row, values):
        counts.updated += 1
    else:
        counts.unchanged += 1
    return row


def _calendar_values(spec: CalendarSpec) -> dict[str, Any]:
    return {
        "id": 1,
        "timezone": spec.timezone,
        "business_start": spec.business_hours.start,
        "business_end": spec.business_hours.end,
        "country_holidays": spec.country_holidays,
        "closed_days": sorted({day.isoformat() for day in spec.closed_days}),
    }


def _team_values(spec: SupportTeamSpec) -> dict[str, Any]:
    return spec.model_dump(include={"id", "name", "slack_channel", "default_location"})


def _load_preferences(
    team: SupportTeam, spec: SupportTeamSpec, counts: KindCounts, prune: bool
) -> None:
    """Add and update the file's slot preferences, matched on (weekday, start); those the file
    does not list are deleted only when pruning (else kept and counted)."""
    existing = {(pref.weekday, pref.start): pref for pref in team.slot_preferences}
    wanted = {(WEEKDAYS.index(p.weekday), p.start): p for p in spec.slot_preferences}
    for key, pref in existing.items():
        if key in wanted:
            continue
        if prune:
            team.slot_preferences.remove(pref)
            counts.deleted += 1
        else:
            counts.kept += 1
    for (weekday, start), pref_spec in wanted.items():
        values = {
            "weekday": weekday,
            "start": start,
            "length_minutes": pref_spec.length_minutes,
            "capacity": pref_spec.capacity,
            "location": pref_spec.location,
        }
        current = existing.get((weekday, start))
        if current is None:
            team.slot_preferences.append(SlotPreference(**values))
            counts.created += 1
        elif _apply(current, values):
            counts.updated += 1
        else:
            counts.unchanged += 1


def _staff_values(spec: StaffSpec, current: StaffUser | None) -> dict[str, Any]:
    if spec.password is None:  # consistency_problems guarantees password_hash instead
        password_hash = spec.password_hash
    elif current is not None and verify_password(current.password_hash, spec.password):
        password_hash = current.password_hash  # same password: keep the hash, stay unchanged
    else:
        password_hash = hash_password(spec.password)
    values = {
        "username": spec.username,
        "name": spec.name,
        "email": spec.email,
        "roles": list(spec.roles),
        "password_hash": password_hash,
    }
    if spec.disabled is not None:
        values["disabled"] = spec.disabled
    return values


def load_reference_data(
    data: ReferenceData, session: Session, actor: str = "operator", *, prune: bool = False
) -> LoadReport:
    """Upsert checked reference data into the caller's transaction (the caller commits).

    Config changes are recorded in the config's history as saved by `actor`. With `prune`,
    rows the file no longer lists are deleted; without it they are kept (and counted)."""
    report = LoadReport()
    counts = report.counts
    if data.calendar is not None:
        _upsert(session, CalendarConfig, 1, _calendar_values(data.calendar), counts["calendar"])
    for team_spec in data.support_teams:
        team = _upsert(
            session, SupportTeam, team_spec.id, _team_values(team_spec), counts["support_teams"]
        )
        _load_preferences(team, team_spec, counts["slot_preferences"], prune)
    for config_spec in data.refresh_configs:
        saved = save_config(session, config_spec, actor=actor, source=LOADER, now=datetime.now(UTC))
        kind = counts["refresh_configs"]
        if saved.created:
            kind.created += 1
        elif saved.changes:
            kind.updated += 1
            report.edited_configs[saved.config_id] = saved.version
        else:
            kind.unchanged += 1
    for user_spec in data.staff:
        current = session.get(StaffUser, user_spec.username)
        before = (current.password_hash, current.disabled) if current is not None else None
        user = _upsert(
            session,
            StaffUser,
            user_spec.username,
            _staff_values(user_spec, current),
            counts["staff"],
        )
        if before is not None and (user.password_hash != before[0] or user.disabled):
            # A new password or a disabled account ends every session of the user at once.
            revoke_all(session, user.username, datetime.now(UTC))
    if data.service_desk is not None:
        spec = data.service_desk.model_dump(mode="json")
        _upsert(session, ServiceDeskConfig, 1, {"id": 1, "spec": spec}, counts["service_desk"])
    if data.provisioning is not None:
        spec = data.provisioning.model_dump(mode="json")
        _upsert(session, ProvisioningConfig, 1, {"id": 1, "spec": spec}, counts["provisioning"])
    if data.after_hours is not None:
        spec = data.after_hours.model_dump(mode="json")
        _upsert(session, AfterHoursConfig, 1, {"id": 1, "spec": spec}, counts["after_hours"])
    for name in ("outages", "partner_triage"):
        block = getattr(data, name)
        if block is not None:
            values = {"name": name, "spec": block.model_dump(mode="json")}
            _upsert(session, ProcessConfig, name, values, counts[name])
    session.flush()
    return report


def load_reference_file(path: str | Path, session: Session, *, prune: bool = False) -> LoadReport:
    """Check the whole file, then upsert it in the caller's transaction (the caller commits,
    e.g. with `store.db.session_scope`). Raises ReferenceDataError, having written nothing,
    if anything in the file is wrong. `prune`: see `load_reference_data`."""
    return load_reference_data(parse_reference_file(path, session), session, prune=prune)


def config_view(cfg: RefreshConfig, version: int = 0) -> ConfigView:
    """A config row as the workflows and pages read it (one shape for both)."""
    return ConfigView(
        version=version,
        id=cfg.id,
        name=cfg.name,
        org=cfg.org,
        requires_approval=cfg.requires_approval,
        approvers=cfg.approvers or [],
        options=cfg.options or {},
        approved_models=cfg.approved_models or [],
        proposed_models=cfg.proposed_models or {},
        peripheral_bundle=cfg.peripheral_bundle or [],
        peripheral_catalog=cfg.peripheral_catalog or [],
        software_catalog=cfg.software_catalog or [],
        unit_location=cfg.unit_location,
        prestage_group=cfg.prestage_group,
    )
