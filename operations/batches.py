"""Reading a batch's serials CSV and starting its RefreshBatch workflow.

The CSV needs a `serial` column; optional columns: `style`, `delegate_name`,
`delegate_email`, and for bump-down tickets `replacement_serial`, `replacement_platform`,
`replacement_model`. A malformed row is refused with its line and reason; the good rows go on.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from pydantic import ValidationError
from sqlalchemy import delete, insert, select
from temporalio.common import WorkflowIDConflictPolicy

from domain.refresh import (
    BATCH_WORKFLOW_TYPE,
    TICKET_ID_PATTERN,
    BatchRow,
    RefreshBatchInput,
    RefusedRow,
    batch_workflow_id,
)
from domain.settings import Settings, get_settings
from store.db import make_engine, session_factory
from store.tables import Batch, BatchLine, RefreshConfig


class BatchFileError(Exception):
    """The file or the config cannot start a batch at all; `field` is the input at fault."""

    def __init__(self, message: str, field: str = "config_id") -> None:
        super().__init__(message)
        self.field = field


def parse_serials_csv(text: str) -> tuple[list[BatchRow], list[RefusedRow]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "serial" not in fields:
        raise BatchFileError("the CSV needs a header row with a 'serial' column", "csv")
    reader.fieldnames = fields
    rows: list[BatchRow] = []
    refused: list[RefusedRow] = []
    seen: set[str] = set()
    for line, raw in enumerate(reader, start=2):
        rec = {k: (v or "").strip() for k, v in raw.items() if k}
        serial = rec.get("serial", "")
        if not any(rec.values()):
            continue
        if None in raw:
            refused.append(
                RefusedRow(line=line, serial=serial, reason="malformed row: too many columns")
            )
            continue
        if not re.fullmatch(r"[A-Za-z0-9-]{3,64}", serial):
            refused.append(
                RefusedRow(
                    line=line,
                    serial=serial,
                    reason="malformed row: serial must be 3-64 letters/digits",
                )
            )
            continue
        if serial.upper() in seen:
            refused.append(RefusedRow(line=line, serial=serial, reason="duplicate serial in file"))
            continue
        try:
            row = BatchRow(
                line=line,
                serial=serial,
                style=rec.get("style") or None,
                delegate=(
                    {"name": rec["delegate_name"], "email": rec["delegate_email"]}
                    if rec.get("delegate_email")
                    else None
                ),
                replacement_system=(
                    {
                        "serial": rec["replacement_serial"],
                        "platform": rec.get("replacement_platform", ""),
                        "model": rec.get("replacement_model", ""),
                    }
                    if rec.get("replacement_serial")
                    else None
                ),
            )
        except ValidationError as e:
            why = "; ".join(f"{'.'.join(str(x) for x in p['loc'])}: {p['msg']}" for p in e.errors())
            refused.append(RefusedRow(line=line, serial=serial, reason=f"malformed row: {why}"))
            continue
        seen.add(serial.upper())
        rows.append(row)
    return rows, refused


def prepare_batch(
    settings: Settings, config_id: str, batch_id: str, text: str, source: str
) -> tuple[RefreshBatchInput, bool]:
    """Store the batch and its lines in one transaction; the workflow input and whether the
    batch is new. The lines go to the database, not into the input, so a file of any size
    the upload accepts stays far below Temporal's message limits; the workflow reads them
    in pages. Launching an existing batch id again runs its stored lines again, and is
    refused if the file lists other serials."""
    if not re.fullmatch(TICKET_ID_PATTERN, batch_id):
        raise BatchFileError(
            f"batch id '{batch_id}' may use letters, digits, '.', '_' and '-'", "batch_id"
        )
    rows, refused = parse_serials_csv(text)
    lines = sorted(
        [(r.line, r.serial, r.model_dump(mode="json"), None) for r in rows]
        + [(r.line, r.serial[:255], None, r.reason) for r in refused]
    )
    sessions = session_factory(make_engine(settings.database_url))
    with sessions.begin() as db:
        cfg = db.get(RefreshConfig, config_id)
        if cfg is None:
            raise BatchFileError(f"unknown refresh config '{config_id}' (see `deskflow load`)")
        new = db.get(Batch, batch_id) is None
        stored = [] if new else db.execute(_stored_lines(batch_id)).all()
        if not new and stored and [tuple(x) for x in stored] != [(n, s) for n, s, *_ in lines]:
            raise BatchFileError(
                f"batch '{batch_id}' already exists with other serials; "
                "give this file a batch id of its own",
                "batch_id",
            )
        if new:
            db.add(
                Batch(
                    id=batch_id,
                    config_id=config_id,
                    created_at=datetime.now(UTC),
                    created_by="cli",
                    source_name=source,
                    row_count=len(lines),
                )
            )
            db.flush()
        if lines and not stored:
            db.execute(
                insert(BatchLine),
                [
                    {"batch_id": batch_id, "line": n, "serial": serial, "row": row, "refused": why}
                    for n, serial, row, why in lines
                ],
            )
        style = cfg.default_style
    inp = RefreshBatchInput(
        batch_id=batch_id,
        launch_id=uuid4().hex,
        config_id=config_id,
        default_style=style,
        lines=len(lines),
    )
    return inp, new


def _stored_lines(batch_id: str):
    return (
        select(BatchLine.line, BatchLine.serial)
        .where(BatchLine.batch_id == batch_id)
        .order_by(BatchLine.line)
    )


def batch_input(
    settings: Settings, config_id: str, batch_id: str, text: str, source: str
) -> RefreshBatchInput:
    return prepare_batch(settings, config_id, batch_id, text, source)[0]


def discard_batch(settings: Settings, batch_id: str) -> None:
    """Remove a batch (and its lines) whose workflow could not be started: no orphan row."""
    with session_factory(make_engine(settings.database_url)).begin() as db:
        db.execute(delete(Batch).where(Batch.id == batch_id))


async def start_batch_input(inp: RefreshBatchInput, settings: Settings) -> str:
    from operations.temporal_client import connect

    client = await connect(settings)
    await client.start_workflow(
        BATCH_WORKFLOW_TYPE,
        inp,
        id=batch_workflow_id(inp.batch_id),
        task_queue=settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
    return inp.batch_id


async def start_batch(config_id: str, file: Path, batch_id: str | None = None) -> str:
    settings = get_settings()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BatchFileError(f"cannot read {file}: {e}") from e
    inp, new = prepare_batch(
        settings, config_id, batch_id or f"{config_id}-{file.stem}", text, file.name
    )
    try:
        return await start_batch_input(inp, settings)
    except BaseException:
        if new:
            discard_batch(settings, inp.batch_id)
        raise
