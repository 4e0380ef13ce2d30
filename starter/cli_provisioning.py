"""`deskflow provisioning ...`: provisioning intake from the command line (seed 000).

`show ID` prints the `state` query; `update ID NAME --as USER --json '{...}'` sends an update
as a staff member (their roles come from the database, as on the web); `gauge --month
YYYY-MM` prints the work-type gauge as JSON (the metric); `rotate-keys` re-encrypts stored
Exhibit A passwords under the first key of `DESKFLOW_AT_REST_KEYS`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select

from domain.settings import get_settings
from operations import provisioning as ops
from operations.errors import FieldError

app = typer.Typer(help="Provisioning intake on Halo (seed 000).", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


def _sessions():
    from store.db import make_engine, session_factory

    return session_factory(make_engine(get_settings().database_url))


@app.command("show")
def show(halo_ticket_id: str) -> None:
    """Print the ticket's `state` query as JSON (never a password)."""

    async def go():
        from operations.temporal_client import connect

        return await ops.state(await connect(), halo_ticket_id)

    try:
        s = asyncio.run(go())
    except FieldError as e:
        raise _fail(e.message) from None
    out.print_json(s.model_dump_json() if s else "null")


@app.command("update")
def update(
    halo_ticket_id: str,
    name: str,
    as_: Annotated[str, typer.Option("--as", help="the staff username acting")],
    json_: Annotated[str, typer.Option("--json")] = "{}",
) -> None:
    """Send an update as a staff member (refusals are printed with the field at fault)."""
    from store.tables import StaffUser

    with _sessions()() as db:
        user = db.scalar(select(StaffUser).where(StaffUser.username == as_))
        if user is None:
            raise _fail(f"no staff member {as_!r}")
        by = ops.actor(user.username, user.name, user.email, frozenset(user.roles or []))
    try:
        data = json.loads(json_)
    except ValueError as e:
        raise _fail(f"--json: {e}") from None
    if not isinstance(data, dict):
        raise _fail("--json: expected an object")

    async def go():
        from operations.temporal_client import connect

        if name == "submit_details":
            with _sessions()() as db:
                ops.check_exhibit(db, data.get("details") or {})
        return await ops.update(await connect(), halo_ticket_id, name, by, data)

    try:
        s = asyncio.run(go())
    except FieldError as e:
        fields = "; ".join(f"{f}: {m}" for f, m in e.errors.items()) or e.message
        raise _fail(f"{name} refused: {fields}") from None
    out.print_json(s.model_dump_json())


@app.command("gauge")
def gauge(month: Annotated[str | None, typer.Option(help="YYYY-MM; this month if omitted")] = None):
    """The work-type gauge (share of tickets whose time is all Provisioning and Imaging)."""
    try:
        with _sessions()() as db:
            g = ops.gauge(db, month, get_settings().timezone)
    except FieldError as e:
        raise _fail(e.message) from None
    out.print_json(json.dumps({**g.model_dump(mode="json"), "metric": g.as_metric()}))


@app.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored password not under the current at-rest key."""
    from store import provisioning as prov_store
    from store.secret_box import SecretBox

    box = SecretBox.from_settings(get_settings())
    with _sessions().begin() as db:
        n = prov_store.rotate(db, box)
    out.print(f"{n} secret(s) re-encrypted under key {box.current!r}")
