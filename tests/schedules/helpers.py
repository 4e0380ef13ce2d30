"""Helpers of the schedule tests: teams, configs, slots and projection rows of their own.

The suite shares one database per session, so every test here makes its own support team
(and, where it needs one, its own refresh config and approver) with a unique id, and runs the
scheduled workflows for these teams only; nothing here touches the teams other tests use.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import uuid4

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from domain.settings import Settings
from store.db import make_engine, session_factory
from store.tables import (
    RefreshConfig,
    ScheduleSlot,
    SlotBooking,
    SlotPreference,
    SupportTeam,
    Ticket,
)


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url)


def sessions_for(settings: Settings) -> sessionmaker[Session]:
    return session_factory(_engine(settings.database_url))


def new_team(settings: Settings, prefs: list[dict[str, Any]] | None = None) -> str:
    """A fresh support team with these preferences ({weekday: 0-6, start, length_minutes,
    capacity, location})."""
    team_id = f"team-{uuid4().hex[:8]}"
    with sessions_for(settings).begin() as db:
        team = SupportTeam(
            id=team_id,
            name=f"Team {team_id}",
            slack_channel=f"#{team_id}",
            default_location="Test Depot",
        )
        team.slot_preferences = [SlotPreference(**p) for p in prefs or []]
        db.add(team)
    return team_id


def new_config(settings: Settings, approvers: list[dict[str, str]]) -> str:
    config_id = f"cfg-{uuid4().hex[:8]}"
    with sessions_for(settings).begin() as db:
        db.add(
            RefreshConfig(
                id=config_id,
                name=f"Config {config_id}",
                org="LSA",
                default_style="on_prem",
                requires_approval=bool(approvers),
                approvers=approvers,
                options={},
                approved_models=[],
                proposed_models={"windows": "Dell Latitude 7450", "mac": "MacBook Air 13 M4"},
                peripheral_bundle=[],
                peripheral_catalog=[],
                software_catalog=[],
            )
        )
    return config_id


def add_slot(
    settings: Settings, team: str, start: datetime, capacity: int = 2, minutes: int = 60
) -> int:
    with sessions_for(settings).begin() as db:
        slot = ScheduleSlot(
            team_id=team,
            start_at=start,
            end_at=start + timedelta(minutes=minutes),
            location="Test Depot",
            capacity=capacity,
            booked=0,
        )
        db.add(slot)
        db.flush()
        return slot.id


def team_slots(settings: Settings, team: str) -> list[ScheduleSlot]:
    with sessions_for(settings)() as db:
        rows = list(
            db.scalars(
                select(ScheduleSlot)
                .where(ScheduleSlot.team_id == team)
                .order_by(ScheduleSlot.start_at)
            )
        )
        db.expunge_all()
        return rows


def get_slot(settings: Settings, slot_id: int) -> ScheduleSlot:
    with sessions_for(settings)() as db:
        slot = db.get(ScheduleSlot, slot_id)
        assert slot is not None
        db.expunge(slot)
        return slot


def bookings(settings: Settings, slot_id: int) -> list[SlotBooking]:
    with sessions_for(settings)() as db:
        rows = list(db.scalars(select(SlotBooking).where(SlotBooking.slot_id == slot_id)))
        db.expunge_all()
        return rows


def project(settings: Settings, ticket_id: str, **values: Any) -> None:
    """Insert or change a ticket's projection row (a ticket known only to the database)."""
    with sessions_for(settings).begin() as db:
        row = db.get(Ticket, ticket_id)
        if row is None:
            row = Ticket(
                ticket_id=ticket_id,
                config_id="lsa-onprem",
                style="on_prem",
                status="pending_slot_discovery",
                support_team="nit-central",
                user_uniqname="u",
                user_email="u@example.edu",
                user_name="U",
                existing_serial=f"OLD{ticket_id[-6:].upper()}",
                state={},
                created_at=datetime.now(UTC),
            )
            db.add(row)
        for key, value in values.items():
            setattr(row, key, value)


def projected(settings: Settings, ticket_id: str) -> Ticket | None:
    with sessions_for(settings)() as db:
        row = db.get(Ticket, ticket_id)
        if row is not None:
            db.expunge(row)
        return row
