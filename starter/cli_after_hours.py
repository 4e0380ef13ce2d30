"""`deskflow after-hours`: a case's state, its updates, and who is on call (seed 004)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from domain.on_call import escalation_chain, on_call
from operations import after_hours as cases
from operations.errors import FieldError

app = typer.Typer(help="After-hours contract-partner cases.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


@app.command("show")
def show(case_id: str) -> None:
    """Print the case's `state` query as JSON."""

    async def go():
        from operations.temporal_client import connect

        return await cases.case_state(await connect(), case_id)

    try:
        out.print_json(asyncio.run(go()).model_dump_json())
    except FieldError as e:
        raise _fail(e.message) from None


@app.command("update")
def update(case_id: str, name: str, json_: Annotated[str, typer.Option("--json")] = "{}") -> None:
    """acknowledge | technician_contacted | resolve, e.g. --json '{"by": "aaron"}'."""
    try:
        data = json.loads(json_)
    except json.JSONDecodeError as e:
        raise _fail(f"--json is not JSON: {e}") from None

    async def go():
        from operations.temporal_client import connect

        return await cases.act(await connect(), case_id, name, data)

    try:
        out.print_json(asyncio.run(go()).model_dump_json())
    except FieldError as e:
        raise _fail(e.message) from None


@app.command("oncall")
def oncall(
    at: Annotated[str | None, typer.Option(help="an ISO instant; default now")] = None,
) -> None:
    """Who each schedule pages at an instant, in order, and whether CPS is open."""
    from domain.settings import get_settings
    from store.db import make_engine, session_factory

    settings = get_settings()
    try:
        moment = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError:
        raise _fail(f"--at {at!r} is not an ISO date-time") from None
    if moment.tzinfo is None:
        raise _fail("--at needs an offset, e.g. 2026-12-11T22:00-05:00")
    with session_factory(make_engine(settings.database_url))() as db:
        try:
            desk = cases.read_desk(db, moment, settings.timezone, settings.itsm)
        except FieldError as e:
            raise _fail(e.message) from None
    state = "open" if desk.cps_open(moment) else "closed"
    out.print(f"CPS is {state} at {moment.isoformat()}")
    table = Table("schedule", "on call", "paging order")
    for s in desk.spec.schedules:
        who = on_call(s, moment, desk.timezone, desk.closed) or "—"
        order = escalation_chain(s, moment, desk.timezone, desk.closed, desk.spec.technicians_paged)
        table.add_row(s.name, who, " → ".join([*order, "leadership"]))
    out.print(table)
