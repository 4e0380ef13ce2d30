"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from store.db import alembic_config, make_engine, migrate, normalize_url, session_scope
from store.tables import Base, ScheduleSlot, SupportTeam

REPO = Path(__file__).resolve().parents[2]
ALL_TABLES = set(Base.metadata.tables) | {"alembic_version"}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_creates_every_table(db_url: str) -> None:
    migrate(db_url)
    assert _tables(db_url) == ALL_TABLES
    assert {
        "calendar_config",
        "support_team",
        "slot_preference",
        "refresh_config",
        "schedule_slot",
        "slot_booking",
        "ticket",
        "audit",
        "event",
        "email_log",
        "batch",
        "staff_user",
    } <= ALL_TABLES


def test_migrated_schema_matches_models(engine: Engine) -> None:
    """The hand-checked migration and the models agree (what `alembic check` verifies)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrate_twice_and_downgrade(db_url: str) -> None:
    migrate(db_url)
    migrate(db_url)  # already at head: nothing to do, no error
    command.downgrade(alembic_config(db_url), "base")
    assert _tables(db_url) == {"alembic_version"}
    migrate(db_url)
    assert _tables(db_url) == ALL_TABLES


def test_alembic_cli_uses_settings_url(db_url: str) -> None:
    """`alembic upgrade head` from the repo root migrates DESKFLOW_DATABASE_URL."""
    env = {**os.environ, "DESKFLOW_DATABASE_URL": db_url}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _tables(db_url) == ALL_TABLES


def test_migrate_creates_sqlite_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'nested' / 'deskflow.db'}"
    migrate(url)
    assert (tmp_path / "var" / "nested" / "deskflow.db").exists()
    assert _tables(url) == ALL_TABLES


def test_plain_postgresql_urls_use_psycopg() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"


def test_sqlite_connection_settings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    finally:
        engine.dispose()


def test_timestamps_round_trip_as_utc(engine: Engine) -> None:
    detroit = datetime(2027, 3, 2, 9, 0, tzinfo=ZoneInfo("America/Detroit"))
    with session_scope(engine) as session:
        session.add(SupportTeam(id="t", name="T", slack_channel="#t", default_location="here"))
        session.add(
            ScheduleSlot(
                team_id="t",
                start_at=detroit,
                end_at=detroit + timedelta(hours=1),
                location="here",
                capacity=1,
            )
        )
    with session_scope(engine) as session:
        slot = session.scalars(select(ScheduleSlot)).one()
        assert slot.start_at == detroit
        assert slot.start_at.tzinfo == UTC
        assert slot.start_at.hour == 14  # 09:00 EST
        assert slot.booked == 0


def test_naive_timestamps_and_overbooking_are_refused(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(SupportTeam(id="t", name="T", slack_channel="#t", default_location="here"))
    with pytest.raises(StatementError, match="naive datetime"), session_scope(engine) as session:
        naive = datetime(2027, 3, 2, 9, 0)
        session.add(
            ScheduleSlot(team_id="t", start_at=naive, end_at=naive, location="x", capacity=1)
        )
    start = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            ScheduleSlot(
                team_id="t", start_at=start, end_at=start, location="x", capacity=1, booked=2
            )
        )
