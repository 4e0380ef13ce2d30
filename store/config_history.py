"""Saving a refresh config with its history, and what an edit would do to running tickets.

Every write of a config, from the web editor or `deskflow load`, goes through `save_config`:
it stores the config, and if anything changed, a new `RefreshConfigVersion` (who, when,
from where, each field before and after). The editor names the version it edited, so a save
over someone else's newer version is refused instead of silently undoing it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from domain.config_changes import FieldChange, Impact, RunningTicket, config_changes, impact
from domain.reference_data import RefreshConfigSpec
from domain.refresh import Status
from store.tables import RefreshConfig, RefreshConfigVersion, Ticket, TicketConfigLoad

EDITOR, LOADER = "web editor", "deskflow load"
CONFIG_FIELDS = tuple(RefreshConfigSpec.model_fields)


class StaleVersion(Exception):
    """The config was saved by someone else since the editor opened it."""

    def __init__(self, config_id: str, current: int, edited: int) -> None:
        super().__init__(
            f"refresh config {config_id} was changed (version {current}) after you opened "
            f"version {edited}; reload it and make your change again"
        )
        self.current = current


@dataclass(frozen=True)
class Saved:
    """What a save did: the config's version now, and the fields that changed."""

    config_id: str
    version: int
    created: bool
    changes: list[FieldChange]


def config_values(row: RefreshConfig) -> dict[str, Any]:
    """A config row as the editor and the file give it (the spec's JSON shape)."""
    return {name: getattr(row, name) for name in CONFIG_FIELDS}


def current_version(session: Session, config_id: str) -> int:
    """The latest version number; 0 for a config saved before versions were kept."""
    found = session.scalar(
        select(func.max(RefreshConfigVersion.version)).where(
            RefreshConfigVersion.config_id == config_id
        )
    )
    return int(found or 0)


def save_config(
    session: Session,
    spec: RefreshConfigSpec,
    *,
    actor: str,
    source: str,
    now: datetime,
    edited_version: int | None = None,
) -> Saved:
    """Create or update a checked config in the caller's transaction, recording the change.

    `edited_version`: the version the editor showed; None skips the check (the loader,
    whose file is the authority). Saving identical values records nothing.
    """
    values = spec.model_dump(mode="json")
    row = session.get(RefreshConfig, spec.id, with_for_update=True)
    version = current_version(session, spec.id)
    if edited_version is not None and edited_version != version:
        raise StaleVersion(spec.id, version, edited_version)
    before = None if row is None else config_values(row)
    changes = config_changes(before, values)
    if row is None:
        session.add(RefreshConfig(**values))
    elif changes:
        for name, value in values.items():
            setattr(row, name, value)
    if not changes:
        return Saved(spec.id, version, False, [])
    session.add(
        RefreshConfigVersion(
            config_id=spec.id,
            version=version + 1,
            saved_at=now,
            saved_by=actor,
            source=source,
            changes=[c.model_dump(mode="json") for c in changes],
            snapshot=values,
        )
    )
    session.flush()
    return Saved(spec.id, version + 1, row is None, changes)


def history(session: Session, config_id: str) -> list[RefreshConfigVersion]:
    """Every recorded version, newest first."""
    return list(
        session.scalars(
            select(RefreshConfigVersion)
            .where(RefreshConfigVersion.config_id == config_id)
            .order_by(RefreshConfigVersion.version.desc())
        )
    )


def running_tickets(session: Session, config_id: str) -> list[RunningTicket]:
    """The config's tickets that have not ended, from the ticket projection."""
    rows = session.scalars(
        select(Ticket).where(
            Ticket.config_id == config_id,
            Ticket.status.not_in([Status.complete.value, Status.cancelled.value]),
        )
    )
    return [
        RunningTicket(
            ticket_id=row.ticket_id,
            status=Status(row.status),
            held_from=(row.state or {}).get("held_from"),
            style=row.style,
            wizard_submitted=bool((row.state or {}).get("wizard_submitted")),
        )
        for row in rows
    ]


def edit_impact(
    session: Session, spec: RefreshConfigSpec
) -> tuple[list[FieldChange], list[Impact]]:
    """What saving `spec` would change, and how many running tickets each change reaches."""
    row = session.get(RefreshConfig, spec.id)
    before = None if row is None else config_values(row)
    changes = config_changes(before, spec.model_dump(mode="json"))
    if before is None:
        return changes, []
    return changes, impact(changes, running_tickets(session, spec.id))


def record_load(
    session: Session, ticket_id: str, run_id: str, config_id: str, now: datetime
) -> int:
    """Note that a ticket's run read the config now; returns the version it read."""
    version = current_version(session, config_id)
    if session.get(TicketConfigLoad, (ticket_id, run_id, version)) is None:
        session.add(
            TicketConfigLoad(
                ticket_id=ticket_id,
                run_id=run_id,
                config_id=config_id,
                version=version,
                loaded_at=now,
            )
        )
    return version


def loaded_versions(
    session: Session, runs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """The config version each (ticket, run) read last, for those that recorded one."""
    if not runs:
        return {}
    load = TicketConfigLoad
    rows = session.execute(
        select(load.ticket_id, load.run_id, func.max(load.version))
        .where(tuple_(load.ticket_id, load.run_id).in_(list(runs)))
        .group_by(load.ticket_id, load.run_id)
    )
    return {(ticket, run): version for ticket, run, version in rows if version is not None}
