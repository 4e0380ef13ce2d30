"""Store fixtures: every store test runs against SQLite and against PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from store.db import make_engine, migrate
from tests.pg_server import create_database
from tests.store.pg import postgres_server  # noqa: F401  (fixture used via getfixturevalue)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh, empty (unmigrated) database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'deskflow.db'}"
    return create_database(request.getfixturevalue("postgres_server"))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a freshly migrated database."""
    migrate(db_url)
    engine = make_engine(db_url)
    yield engine
    engine.dispose()
