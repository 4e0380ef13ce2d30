"""Alembic environment: runs the migrations against the app database.

The URL comes from `store.db.migrate()` (via `config.attributes["url"]`) or else from the
settings (`DESKFLOW_DATABASE_URL`), never from alembic.ini, so `alembic upgrade head` and the
app always agree on which database they mean. Engines come from `store.db.make_engine` so
migrations see the same SQLite settings as the app (foreign keys on, transactional DDL).
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import pool

from domain.settings import get_settings
from store.db import ensure_sqlite_folder, make_engine, normalize_url
from store.tables import Base, UTCDateTime

config = context.config

if config.config_file_name is not None:
    # Keep loggers the app already configured when Alembic is run from its CLI.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
url = normalize_url(config.attributes.get("url") or get_settings().database_url)
is_sqlite = url.get_backend_name() == "sqlite"


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render app-specific column types as plain SQLAlchemy ones in generated migrations.

    A migration must keep working after the models change, so it may not import
    `store.tables`; `UTCDateTime` is stored as a timezone-aware DateTime on every backend.
    """
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    """Emit the SQL to stdout (`alembic upgrade head --sql`) without connecting."""
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=is_sqlite,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Connect and migrate in one transaction (SQLite included: see store.db.make_engine)."""
    ensure_sqlite_folder(url)
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite cannot ALTER most things; batch mode recreates tables instead.
                render_as_batch=is_sqlite,
                transactional_ddl=True,
                compare_type=True,
                render_item=render_item,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
