"""Is this deskflow process ready to work? Temporal, the app database and its schema, in words.

The web app's `/readyz`, a worker's health port and `deskflow doctor` all ask the same three
questions, each bounded by a timeout so a dead dependency answers "no" instead of hanging a
load balancer's probe.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import timedelta

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, GetSystemInfoRequest
from temporalio.client import Client

from store.db import alembic_config

CHECK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


async def temporal(client: Client, timeout_s: float = CHECK_TIMEOUT_S) -> Check:
    """The Temporal frontend answers, and the client's namespace exists on it."""
    namespace = client.namespace
    try:
        await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=timeout_s)
        )
        await _describe_namespace(client, timeout_s)
    except Exception as e:  # every failure is an answer here
        return Check("temporal", False, f"Temporal at {_target(client)}: {_reason(e)}")
    return Check("temporal", True, f"Temporal at {_target(client)}, namespace {namespace}")


async def database(engine: Engine) -> Check:
    """The app database takes a query."""
    where = _safe_url(engine)
    try:
        await asyncio.to_thread(_select_one, engine)
    except SQLAlchemyError as e:
        return Check("database", False, f"database {where}: {_reason(e)}")
    return Check("database", True, f"database {where}")


async def migrations(engine: Engine) -> Check:
    """The app database's schema is the one this code expects (`deskflow migrate` made it)."""
    try:
        current, heads = await asyncio.to_thread(_revisions, engine)
    except SQLAlchemyError as e:
        return Check("migrations", False, f"cannot read the schema version: {_reason(e)}")
    if current == heads:
        return Check("migrations", True, f"schema at {', '.join(sorted(heads))}")
    if not current:
        detail = "the database has no deskflow schema: run `deskflow migrate`"
    elif current - heads and not heads - current:
        detail = (
            f"the database is at {', '.join(sorted(current))}, newer than this code"
            f" ({', '.join(sorted(heads))}): deploy the matching deskflow version"
        )
    else:
        detail = (
            f"the database is at {', '.join(sorted(current))}, behind this code's"
            f" {', '.join(sorted(heads))}: run `deskflow migrate`"
        )
    return Check("migrations", False, detail)


async def readiness(client: Client | None, engine: Engine) -> list[Check]:
    """All three checks at once; `client=None` means the process could not connect at all."""
    db = database(engine)
    schema = migrations(engine)
    if client is None:
        return [
            Check("temporal", False, "not connected to Temporal"),
            *await asyncio.gather(db, schema),
        ]
    return list(await asyncio.gather(temporal(client), db, schema))


def _select_one(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _revisions(engine: Engine) -> tuple[set[str], set[str]]:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current, heads


async def _describe_namespace(client: Client, timeout_s: float) -> None:
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace), timeout=timedelta(seconds=timeout_s)
    )


def _target(client: Client) -> str:
    return client.service_client.config.target_host


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _reason(e: BaseException) -> str:
    """The first line of an error, without the driver's long tail."""
    message = str(getattr(e, "message", None) or e).strip()
    return message.splitlines()[0][:300] if message else type(e).__name__
