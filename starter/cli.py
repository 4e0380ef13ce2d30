"""The `deskflow` command: run the pieces, load reference data, drive batches and tickets."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.refresh import (
    SIGNALS,
    UPDATES,
    BatchProgress,
    TicketState,
    batch_workflow_id,
    workflow_id,
)
from domain.settings import get_settings

app = typer.Typer(
    help="deskflow: durable IT service-desk workflows on Temporal.", no_args_is_help=True
)
batch_app = typer.Typer(help="Refresh ticket batches.", no_args_is_help=True)
ticket_app = typer.Typer(help="One refresh ticket.", no_args_is_help=True)
schedules_app = typer.Typer(help="Temporal Schedules of deskflow.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")
app.add_typer(ticket_app, name="ticket")
app.add_typer(schedules_app, name="schedules")
out = Console()
err = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(1)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from store.db import migrate as run_migrations

    run_migrations(get_settings().database_url)
    out.print("database is up to date")


@app.command()
def load(file: Path) -> None:
    """Load reference data from YAML (idempotent; a bad file is refused whole)."""
    from store.db import make_engine, session_factory
    from store.reference import ReferenceDataError, load_reference_file

    sessions = session_factory(make_engine(get_settings().database_url))
    try:
        with sessions.begin() as db:
            report = load_reference_file(file, db)
    except ReferenceDataError as e:
        raise fail(f"{file} refused, nothing loaded:\n{e}") from None
    out.print(f"loaded {file}: {report}")


@app.command()
def worker() -> None:
    """Run a worker (same as `python worker.py`)."""
    import worker as worker_module

    worker_module.main()


@app.command()
def web(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the web app alone."""
    import uvicorn

    uvicorn.run("web.app:create_app", factory=True, host=host, port=port)


@app.command()
def dev(
    demo: Annotated[bool, typer.Option(help="load demo data and start a demo batch")] = True,
) -> None:
    """Everything for local development: what `make run` runs."""
    from starter.dev import run_dev

    run_dev(demo=demo)


# ----- batches ------------------------------------------------------------------------------


@batch_app.command("start")
def batch_start(
    config: Annotated[str, typer.Option("--config", help="refresh config id")],
    file: Annotated[Path, typer.Option("--file", help="CSV with a 'serial' column")],
    batch_id: Annotated[
        str | None, typer.Option("--id", help="batch id (default: file name)")
    ] = None,
    follow: bool = True,
) -> None:
    """Look the file's serials up in TDX and start one refresh ticket per system."""
    from starter.batches import BatchFileError, start_batch

    try:
        batch = asyncio.run(start_batch(config, file, batch_id))
    except BatchFileError as e:
        raise fail(str(e)) from None
    out.print(f"batch [bold]{batch}[/bold] started (workflow {batch_workflow_id(batch)})")
    if follow:
        asyncio.run(_follow_batch(batch))


@batch_app.command("show")
def batch_show(batch_id: str) -> None:
    """Follow a batch (again) until it is done, then print its summary."""
    asyncio.run(_follow_batch(batch_id))


async def _follow_batch(batch_id: str) -> None:
    from starter.temporal_client import connect

    client = await connect()
    handle = client.get_workflow_handle(batch_workflow_id(batch_id))
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), console=out
    ) as bar:
        task = bar.add_task(f"batch {batch_id}: looking up serials", total=None)
        while True:
            try:
                p = await handle.query("progress", result_type=BatchProgress)
            except RPCError as e:
                raise fail(f"batch {batch_id}: {e.message}") from None
            bar.update(task, total=p.total, completed=p.processed)
            if p.done:
                break
            await asyncio.sleep(0.5)
    print_batch_summary(p)


def print_batch_summary(p: BatchProgress) -> None:
    out.print(
        f"started {len(p.started)}, already running {len(p.already_running)}, "
        f"refused {len(p.refused)} (of {p.total})"
    )
    if p.refused:
        table = Table("line", "serial", "reason", title="refused")
        for r in sorted(p.refused, key=lambda r: r.line):
            table.add_row(str(r.line), r.serial, r.reason)
        out.print(table)


# ----- tickets ------------------------------------------------------------------------------


@ticket_app.command("show")
def ticket_show(ticket_id: str) -> None:
    """Print the ticket's `state` query as JSON."""

    async def go() -> TicketState:
        from starter.temporal_client import connect

        client = await connect()
        return await client.get_workflow_handle(workflow_id(ticket_id)).query(
            "state", result_type=TicketState
        )

    try:
        state = asyncio.run(go())
    except RPCError as e:
        raise fail(f"ticket {ticket_id}: {e.message}") from None
    out.print_json(state.model_dump_json())


def _parse(kind: str, name: str, raw: str, table: dict) -> object:
    model = table.get(name)
    if model is None:
        raise fail(f"unknown {kind} '{name}'; one of: {', '.join(sorted(table))}")
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in p['loc']) or '(body)'}: {p['msg']}" for p in e.errors()
        )
        raise fail(f"{name}: {problems}") from None


@ticket_app.command("update")
def ticket_update(
    ticket_id: str, name: str, json_: Annotated[str, typer.Option("--json")] = "{}"
) -> None:
    """Send an update (validated; prints the result or the validator's error)."""
    msg = _parse("update", name, json_, UPDATES)

    async def go() -> object:
        from starter.temporal_client import connect

        client = await connect()
        return await client.get_workflow_handle(workflow_id(ticket_id)).execute_update(name, msg)

    try:
        result = asyncio.run(go())
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        raise fail(f"{name} refused: {getattr(cause, 'message', cause)}") from None
    except RPCError as e:
        raise fail(f"ticket {ticket_id}: {e.message}") from None
    out.print_json(json.dumps(result, default=str))


@ticket_app.command("signal")
def ticket_signal(
    ticket_id: str, name: str, json_: Annotated[str, typer.Option("--json")] = "{}"
) -> None:
    """Send a signal (its payload is validated here, before it is sent)."""
    msg = _parse("signal", name, json_, SIGNALS)

    async def go() -> None:
        from starter.temporal_client import connect

        client = await connect()
        await client.get_workflow_handle(workflow_id(ticket_id)).signal(name, msg)

    try:
        asyncio.run(go())
    except RPCError as e:
        raise fail(f"ticket {ticket_id}: {e.message}") from None
    out.print(f"{name} sent to {workflow_id(ticket_id)}")


@app.command()
def bench() -> None:
    """Measure throughput and history size on a fresh dev server (prints figures)."""
    from starter.bench import run_bench

    sys.exit(asyncio.run(run_bench()))
