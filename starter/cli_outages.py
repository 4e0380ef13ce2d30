"""`deskflow outage ...` and `deskflow triage ...`: the outage and triage actions from a shell.

The same operations as the staff console and the API (`operations.outages`), so the same
refusals: `outage link` is one action (update-with-start) that works whether or not the
outage's workflow is running yet.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from domain.settings import get_settings
from operations import outages as ops
from operations.errors import FieldError

T = TypeVar("T")
out = Console(soft_wrap=True)
outage_app = typer.Typer(
    help="Outages (seed 004): report, confirm, link, resolve.", no_args_is_help=True
)
triage_app = typer.Typer(help="IT-partner triage (seed 003).", no_args_is_help=True)
By = Annotated[str, typer.Option("--by", help="your name, as written on the ticket")]


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    async def go() -> T:
        from operations.temporal_client import connect

        return await work(await connect())

    try:
        return asyncio.run(go())
    except FieldError as e:
        out.print(f"refused: {e.field + ': ' if e.field else ''}{e.message}", style="red")
        raise typer.Exit(1) from None


def _print(result: Any) -> None:
    data = result.model_dump(mode="json") if hasattr(result, "model_dump") else result
    out.print_json(json.dumps(data, default=str))


def _update(outage_id: str, name: str, data: Any) -> None:
    s = get_settings()
    _print(_run(lambda c: ops.outage_update(c, s.task_queue, s.itsm, outage_id, name, data)))


@outage_app.command("report")
def report(
    outage_id: str,
    service: Annotated[str, typer.Option(help="the service that is down")],
    summary: Annotated[str, typer.Option(help="what callers report")],
    incident: Annotated[list[str], typer.Option(help="an incident received (repeat)")],
    by: By,
) -> None:
    """HDQA: report a potential outage; planned outages of the service are checked first."""
    data = {"service": service, "summary": summary, "incidents": incident, "reported_by": by}
    _update(outage_id, "report_potential", data)


@outage_app.command("link")
def link(outage_id: str, ticket_id: str, by: By) -> None:
    """Any agent: link an incident to the outage, in one action."""
    _update(outage_id, "link_incident", {"ticket_id": ticket_id, "by": by})


@outage_app.command("update")
def update(outage_id: str, name: str, json_: Annotated[str, typer.Option("--json")] = "{}") -> None:
    """Any outage update by name (confirm, unlink_incident, resolve, assign_follow_up, ...)."""
    try:
        data = json.loads(json_)
    except ValueError as e:
        out.print(f"refused: --json is not JSON ({e})", style="red")
        raise typer.Exit(1) from None
    _update(outage_id, name, data)


@outage_app.command("show")
def show(outage_id: str) -> None:
    """The outage's state: status, problem, incidents, history."""
    _print(_run(lambda c: ops.outage_state(c, outage_id)))


@triage_app.command("show")
def triage_show(itsm: str, ticket_id: str) -> None:
    """A ticket's triage: the decision and its rule, moves, flags."""
    _print(_run(lambda c: ops.triage_state(c, itsm, ticket_id)))  # type: ignore[arg-type]


@triage_app.command("reassign")
def triage_reassign(
    itsm: str,
    ticket_id: str,
    group: Annotated[str, typer.Option(help="the assignment group to move it to")],
    by: By,
    reason: Annotated[str, typer.Option(help="why")] = "",
) -> None:
    """Move a ticket to another group (a boomerang is refused with its rule)."""
    data = {"group": group, "by": by, "reason": reason}
    _print(_run(lambda c: ops.reassign(c, itsm, ticket_id, data)))  # type: ignore[arg-type]
