"""The `deskflow` command: run the pieces, load reference data, drive batches and tickets."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Column, Table
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
from starter.cli_after_hours import app as after_hours_app
from starter.cli_outages import outage_app, triage_app
from starter.cli_provisioning import app as provisioning_app

app = typer.Typer(
    help="deskflow: durable IT service-desk workflows on Temporal.", no_args_is_help=True
)
batch_app = typer.Typer(help="Refresh ticket batches.", no_args_is_help=True)
ticket_app = typer.Typer(help="One refresh ticket.", no_args_is_help=True)
schedules_app = typer.Typer(help="Temporal Schedules of deskflow.", no_args_is_help=True)
bulk_app = typer.Typer(help="Bulk actions on refresh tickets.", no_args_is_help=True)
slots_app = typer.Typer(help="Schedule slots.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts of the web app.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")
app.add_typer(ticket_app, name="ticket")
app.add_typer(schedules_app, name="schedules")
app.add_typer(bulk_app, name="bulk")
app.add_typer(slots_app, name="slots")
app.add_typer(staff_app, name="staff")
app.add_typer(provisioning_app, name="provisioning")
app.add_typer(after_hours_app, name="after-hours")
app.add_typer(outage_app, name="outage")
app.add_typer(triage_app, name="triage")
# soft_wrap: a line longer than the terminal is left to the terminal, never broken by rich
# in the middle of a ticket or batch id (which a reader then copies in two pieces).
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


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
def load(
    file: Path,
    prune: Annotated[
        bool, typer.Option(help="also delete rows the file no longer lists (e.g. slot times)")
    ] = False,
) -> None:
    """Load reference data from YAML: add and update (idempotent; a bad file is refused whole).

    Rows the file does not list, such as slot preferences added in the console, are kept
    unless --prune is given."""
    from store.db import make_engine, session_factory
    from store.reference import ReferenceDataError, load_reference_file

    sessions = session_factory(make_engine(get_settings().database_url))
    try:
        with sessions.begin() as db:
            report = load_reference_file(file, db, prune=prune)
    except ReferenceDataError as e:
        raise fail(f"{file} refused, nothing loaded:\n{e}") from None
    out.print(f"loaded {file}: {report}")
    if report.edited_configs:
        asyncio.run(_tell_running_tickets(sessions, report.edited_configs))


async def _tell_running_tickets(sessions, edited: dict[str, int]) -> None:
    """Running tickets of an edited config reload it from their next step on."""
    from operations.config_changes import running_ticket_ids, tell_running_tickets
    from operations.temporal_client import connect

    try:
        client = await connect(get_settings())
    except RuntimeError as e:
        err.print(f"running tickets not told of the config change (Temporal: {e})")
        return
    for config_id, version in edited.items():
        with sessions() as db:
            ids = running_ticket_ids(db, config_id)
        told = await tell_running_tickets(client, ids, config_id, version, "operator")
        out.print(f"{config_id}: {told} running ticket(s) reload version {version}")


@app.command()
def worker() -> None:
    """Run a worker (same as `python worker.py`)."""
    import worker as worker_module

    worker_module.main()


@app.command()
def web(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the web app alone (X-Forwarded-* believed only from DESKFLOW_TRUSTED_PROXIES)."""
    import uvicorn

    from operations.json_logs import uvicorn_log_config

    settings = get_settings()
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        log_config=uvicorn_log_config(settings),
    )


@app.command()
def doctor() -> None:
    """Check this deployment's settings and connections; say what is wrong, in words."""
    from domain.settings import Settings
    from starter.doctor import diagnose

    findings = asyncio.run(diagnose(Settings()))
    marks = {"ok": "[green]ok[/green]", "warning": "[yellow]warning[/yellow]"}
    for f in findings:
        out.print(f"{marks.get(f.level, '[red]problem[/red]')}  {f.topic}: {f.message}")
    problems = [f for f in findings if f.level == "problem"]
    if problems:
        err.print(f"{len(problems)} problem(s): deskflow will not work until they are fixed")
        raise typer.Exit(1)
    out.print("no problems found")


@app.command()
def secrets(
    codec_key_id: Annotated[
        str, typer.Option(help="id of the new codec key (use a new id when rotating)")
    ] = "k1",
) -> None:
    """Print a new DESKFLOW_SECRET_KEY, DESKFLOW_CODEC_KEYS and DESKFLOW_AT_REST_KEYS for a
    deployment's .env."""
    from operations.deployment_checks import new_codec_key, new_secret_key

    print(f"DESKFLOW_SECRET_KEY={new_secret_key()}")
    print(f"DESKFLOW_CODEC_KEYS={new_codec_key(codec_key_id)}")
    print(f"DESKFLOW_AT_REST_KEYS={new_codec_key('rest1')}")
    err.print(
        "Keep these secret. To rotate the codec key, put the new entry first and keep the old"
        " ones after it (comma-separated) until no running workflow uses them."
    )


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
    from operations.batches import BatchFileError, start_batch

    try:
        batch = asyncio.run(start_batch(config, file, batch_id))
    except BatchFileError as e:
        raise fail(str(e)) from None
    except (RPCError, RuntimeError) as e:  # Temporal unreachable: nothing was recorded
        raise fail(f"batch not started, nothing recorded: Temporal said {e}") from None
    out.print(f"batch [bold]{batch}[/bold] started (workflow {batch_workflow_id(batch)})")
    if follow:
        asyncio.run(_follow_batch(batch))


@batch_app.command("show")
def batch_show(batch_id: str) -> None:
    """Follow a batch (again) until it is done, then print its summary."""
    asyncio.run(_follow_batch(batch_id))


async def _follow_batch(batch_id: str) -> None:
    from operations.temporal_client import connect

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
        table = Table("line", Column("serial", no_wrap=True), "reason", title="refused")
        for r in sorted(p.refused, key=lambda r: r.line):
            table.add_row(str(r.line), r.serial, r.reason)
        out.print(table)


# ----- tickets ------------------------------------------------------------------------------


@ticket_app.command("show")
def ticket_show(ticket_id: str) -> None:
    """Print the ticket's `state` query as JSON."""

    async def go() -> TicketState:
        from operations.temporal_client import connect

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
        from operations.temporal_client import connect

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
    """Send a signal: its payload is validated, and a signal the ticket would ignore in its
    current status is refused here with the reason (exit 1), not sent."""
    from operations import tickets
    from operations.errors import FieldError

    msg = _parse("signal", name, json_, SIGNALS)

    async def go() -> None:
        from operations.temporal_client import connect

        data = msg.model_dump(mode="json", exclude_unset=True)
        await tickets.signal(await connect(), ticket_id, name, data)

    try:
        asyncio.run(go())
    except FieldError as e:
        raise fail(f"ticket {ticket_id}: {e.message}") from None
    except RPCError as e:
        raise fail(f"ticket {ticket_id}: {e.message}") from None
    out.print(f"{name} sent to {workflow_id(ticket_id)}")


# ----- schedules, slots, bulk actions (starter/schedules.py, slot_admin.py, bulk.py) --------


def _sessions():
    from store.db import make_engine, session_factory

    return session_factory(make_engine(get_settings().database_url))


@schedules_app.command("register")
def schedules_register() -> None:
    """Create or update the slot generation, slot discovery and approver digest schedules."""
    from operations.temporal_client import connect
    from starter.schedules import register_schedules

    async def go() -> dict[str, str]:
        settings = get_settings()
        return await register_schedules(await connect(settings), settings)

    try:
        done = asyncio.run(go())
    except RPCError as e:
        raise fail(f"schedules: {e.message}") from None
    for schedule_id, what in done.items():
        out.print(f"{schedule_id}: {what}")


def _staff_change(change, username: str, *args: object) -> int:
    from datetime import UTC, datetime

    from store.staff_sessions import UnknownStaff

    try:
        with _sessions().begin() as db:
            return change(db, username, *args, datetime.now(UTC))
    except UnknownStaff as e:
        raise fail(str(e)) from None


@staff_app.command("password")
def staff_password(username: str) -> None:
    """Set a staff member's password (asked twice); every session of theirs ends at once."""
    from store.reference import hash_password
    from store.staff_sessions import set_password_hash

    password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise fail("use at least 8 characters")
    ended = _staff_change(set_password_hash, username, hash_password(password))
    out.print(f"password of {username} changed; {ended} session(s) ended")


@staff_app.command("disable")
def staff_disable(username: str) -> None:
    """Disable an account: no sign-in, and its sessions are refused from the next request on."""
    from store.staff_sessions import set_disabled

    ended = _staff_change(set_disabled, username, True)
    out.print(f"{username} disabled; {ended} session(s) ended")


@staff_app.command("enable")
def staff_enable(username: str) -> None:
    """Enable a disabled account again."""
    from store.staff_sessions import set_disabled

    _staff_change(set_disabled, username, False)
    out.print(f"{username} enabled")


@slots_app.command("delete")
def slots_delete(
    slot_id: int,
    by: Annotated[str, typer.Option("--by", help="who deletes it (recorded on the slot)")],
) -> None:
    """Delete a slot; each ticket booked on it is asked to pick a new one (emailed)."""
    from operations.slot_admin import SlotUnavailable, delete_slot_and_notify
    from operations.temporal_client import connect

    async def go():
        return await delete_slot_and_notify(await connect(), _sessions(), slot_id, by)

    try:
        result = asyncio.run(go())
    except (SlotUnavailable, ValueError) as e:
        raise fail(str(e)) from None
    what = "was already deleted" if result.already_deleted else f"deleted by {result.deleted_by}"
    out.print(f"slot {slot_id} {what}; {len(result.notified)} ticket(s) asked to reschedule")
    for t in result.notified:
        out.print(f"  {t}")
    for f in result.failed:
        err.print(f"  [red]{f.ticket_id}[/red]: {f.reason}")
    if result.failed:
        raise typer.Exit(1)


def _run_bulk(title: str, total: int, job) -> None:
    """Run a bulk job with a progress bar, then print one table row per input row."""
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), console=out
    ) as bar:
        task = bar.add_task(title, total=total)

        async def go():
            from operations.temporal_client import connect

            client = await connect()
            return await job(client, _sessions(), lambda _row: bar.advance(task))

        try:
            results = asyncio.run(go())
        except RPCError as e:
            raise fail(e.message) from None
    table = Table("line", Column("ticket", no_wrap=True), "result", "detail", title=title)
    for r in results:
        table.add_row(
            str(r.line),
            r.ticket_id or "",
            "[green]ok[/green]" if r.ok else "[red]refused[/red]",
            r.detail,
        )
    out.print(table)
    refused = sum(not r.ok for r in results)
    out.print(f"{len(results) - refused} done, {refused} refused (of {len(results)})")
    if refused:
        raise typer.Exit(1)


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise fail(f"cannot read {file}: {e}") from None


@bulk_app.command("assign")
def bulk_assign(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: ticket_id or existing_serial, replacement_serial, platform, model, "
            "optional tracking_number and group"
        ),
    ],
    by: Annotated[str, typer.Option("--by", help="who assigns (recorded on each ticket)")],
    group: Annotated[str | None, typer.Option("--group", help="order group")] = None,
) -> None:
    """Order group: assign replacement systems (advances pending_ordering tickets)."""
    from operations.bulk import BulkFileError, assign_replacements, parse_assignments_csv

    try:
        rows, refused = parse_assignments_csv(_read(file))
    except BulkFileError as e:
        raise fail(f"{file}: {e}") from None
    _run_bulk(
        f"assign replacements ({file.name})",
        len(rows) + len(refused),
        lambda client, sessions, tick: assign_replacements(
            client, sessions, rows, actor=by, group=group, refused=refused, progress=tick
        ),
    )


@bulk_app.command("reschedule")
def bulk_reschedule(
    file: Annotated[Path, typer.Argument(help="CSV with columns ticket_id, slot_id")],
    by: Annotated[str, typer.Option("--by", help="who reschedules")],
    reason: str = "",
) -> None:
    """Assign each ticket the slot given for it (the `reschedule` update)."""
    from operations.bulk import BulkFileError, parse_reschedules_csv, reschedule_many

    try:
        rows, refused = parse_reschedules_csv(_read(file))
    except BulkFileError as e:
        raise fail(f"{file}: {e}") from None
    _run_bulk(
        f"reschedule ({file.name})",
        len(rows) + len(refused),
        lambda client, sessions, tick: reschedule_many(
            client, sessions, rows, actor=by, reason=reason, refused=refused, progress=tick
        ),
    )


def _ticket_ids(ids: list[str] | None, file: Path | None) -> list[str]:
    from operations.bulk import BulkFileError, parse_ticket_ids_csv

    found = list(ids or [])
    if file is not None:
        try:
            found += parse_ticket_ids_csv(_read(file))
        except BulkFileError as e:
            raise fail(f"{file}: {e}") from None
    if not found:
        raise fail("give ticket ids, or --file with a ticket_id column")
    return found


@bulk_app.command("hold")
def bulk_hold(
    ticket_ids: Annotated[list[str] | None, typer.Argument(help="ticket ids")] = None,
    by: Annotated[str, typer.Option("--by", help="who holds")] = "",
    reason: str = "",
    file: Annotated[Path | None, typer.Option("--file", help="CSV with a ticket_id column")] = None,
) -> None:
    """Put many tickets on hold (their timers pause)."""
    from operations.bulk import hold_many

    if not by:
        raise fail("--by is required")
    ids = _ticket_ids(ticket_ids, file)
    _run_bulk(
        "hold",
        len(ids),
        lambda client, sessions, tick: hold_many(
            client, sessions, ids, actor=by, reason=reason, progress=tick
        ),
    )


@bulk_app.command("release")
def bulk_release(
    ticket_ids: Annotated[list[str] | None, typer.Argument(help="ticket ids")] = None,
    by: Annotated[str, typer.Option("--by", help="who releases")] = "",
    file: Annotated[Path | None, typer.Option("--file", help="CSV with a ticket_id column")] = None,
) -> None:
    """Release many held tickets back to where they were."""
    from operations.bulk import release_many

    if not by:
        raise fail("--by is required")
    ids = _ticket_ids(ticket_ids, file)
    _run_bulk(
        "release",
        len(ids),
        lambda client, sessions, tick: release_many(client, sessions, ids, actor=by, progress=tick),
    )


@app.command()
def bench(
    write_docs: Annotated[
        bool, typer.Option(help="rewrite the figures of docs/benchmarks.md from this run")
    ] = False,
) -> None:
    """Measure throughput and history size on fresh servers: figures on stdout, logs to a
    file under var/ (its path printed first)."""
    from starter.bench import run_bench

    sys.exit(asyncio.run(run_bench(write_docs=write_docs)))


def main() -> None:
    """The `deskflow` command, left with `os._exit` once it is done.

    The Temporal SDK's runtime threads can abort the interpreter's teardown (sdk-python#300):
    a command that finished and printed its answer would then exit with SIGABRT instead of
    its own code, which scripts and service managers read as a crash.
    """
    code = 0
    try:
        app()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    main()
