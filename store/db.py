"""Engines, sessions and migrations for the app database (SQLite locally, PostgreSQL at scale).

All engine setup lives here so every process (worker, web, CLI, Alembic, tests) talks to the
database the same way; in particular SQLite gets the connection settings that make it safe
for many threads of one worker at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from domain.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5000


def normalize_url(url: str | URL) -> URL:
    """Parse `url`, pointing plain PostgreSQL URLs at psycopg 3.

    Operators paste `postgresql://` (or Heroku-style `postgres://`) URLs; SQLAlchemy would
    pick psycopg2 for those, which is not installed, so they are rewritten to
    `postgresql+psycopg://`.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """Create an engine for `url` with the per-backend settings the store relies on.

    SQLite: WAL (readers never block the writer), foreign keys enforced, a 5 s busy timeout,
    connections usable from any thread, and every transaction opened with BEGIN IMMEDIATE.
    The last one matters: with the driver's default deferred transactions a transaction that
    read first and writes later cannot wait for the write lock and fails at once with
    "database is locked"; taking the lock up front lets concurrent writers queue on the busy
    timeout instead. It also makes DDL transactional, so a failed migration leaves nothing.

    PostgreSQL: psycopg 3 with pre-ping, so connections dropped by a server restart or a
    proxy are replaced instead of failing the first query after.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    """Install the connect/begin hooks described in `make_engine`."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; `_on_begin` emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def dialect_insert(session: Session) -> Any:
    """The dialect's INSERT with ON CONFLICT support (SQLite and PostgreSQL share the API)."""
    return insert_for(session.get_bind().dialect.name)


def insert_for(dialect: str) -> Any:
    """`dialect_insert` by the dialect's name."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to `engine`.

    `expire_on_commit=False` because callers commit inside `session_scope` and then keep
    using the rows they loaded or created (for instance the booking `book_slot` returns);
    expiring them would make every such read a new query, or fail once the session closed.
    """
    return sessionmaker(bind=engine, expire_on_commit=False)


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine for `DESKFLOW_DATABASE_URL`, created on first use."""
    return make_engine(get_settings().database_url)


@lru_cache(maxsize=8)
def _factory_for(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commit if the block succeeds, roll back if it raises, always close.

    Uses `get_engine()` unless an engine is given (tests and tools that hold their own).
    """
    session = _factory_for(engine or get_engine())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic config for this project's migrations that needs no alembic.ini.

    The URL travels in `config.attributes` rather than the ini's `sqlalchemy.url`, which
    would mangle passwords containing '%'; `store/migrations/env.py` reads it from there and
    falls back to the settings.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.attributes["url"] = normalize_url(url)
    return config


def ensure_sqlite_folder(url: str | URL) -> None:
    """Create the folder of a SQLite database file, which SQLite will not do itself.

    So a fresh checkout's default `sqlite:///var/deskflow.db` works without a manual mkdir,
    whether migrated by `migrate()` or by `alembic upgrade head`.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def migrate(url: str | URL | None = None) -> None:
    """Bring the database at `url` (default: the settings' URL) to the newest schema,
    creating a SQLite file's folder first if needed."""
    command.upgrade(alembic_config(url), "head")
