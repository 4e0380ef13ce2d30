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
from store.tables import Batch, RefreshConfig


class BatchFileError(Exception):
    """The file or the config cannot start a batch at all."""


def parse_serials_csv(text: str) -> tuple[list[BatchRow], list[RefusedRow]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "serial" not in fields:
        raise BatchFileError("the CSV needs a header row with a 'serial' column")
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


def batch_input(
    settings: Settings, config_id: str, batch_id: str, text: str, source: str
) -> RefreshBatchInput:
    if not re.fullmatch(TICKET_ID_PATTERN, batch_id):
        raise BatchFileError(f"batch id '{batch_id}' may use letters, digits, '.', '_' and '-'")
    rows, refused = parse_serials_csv(text)
    sessions = session_factory(make_engine(settings.database_url))
    with sessions.begin() as db:
        cfg = db.get(RefreshConfig, config_id)
        if cfg is None:
            raise BatchFileError(f"unknown refresh config '{config_id}' (see `deskflow load`)")
        if db.get(Batch, batch_id) is None:
            db.add(
                Batch(
                    id=batch_id,
                    config_id=config_id,
                    created_at=datetime.now(UTC),
                    created_by="cli",
                    source_name=source,
                    row_count=len(rows) + len(refused),
                )
            )
        style = cfg.default_style
    return RefreshBatchInput(
        batch_id=batch_id,
        launch_id=uuid4().hex,
        config_id=config_id,
        default_style=style,
        rows=rows,
        refused=refused,
    )


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
    inp = batch_input(settings, config_id, batch_id or f"{config_id}-{file.stem}", text, file.name)
    return await start_batch_input(inp, settings)
