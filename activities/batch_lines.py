"""Reading a batch's stored lines, one page at a time, for the RefreshBatch workflow.

The batch launch stores every line of the file; the workflow asks for the next page after
its cursor, so no Temporal message carries more than a page, whatever the file's length.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from domain.refresh import BatchPage, BatchPageRequest, BatchRow, RefusedRow
from store.tables import BatchLine


class BatchLineActivities:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    @activity.defn(name="read_batch_lines")
    def read_batch_lines(self, req: BatchPageRequest) -> BatchPage:
        with self.sessions() as db:
            lines = db.scalars(
                select(BatchLine)
                .where(BatchLine.batch_id == req.batch_id, BatchLine.line > req.after_line)
                .order_by(BatchLine.line)
                .limit(req.limit)
            ).all()
            rows = [BatchRow.model_validate(x.row) for x in lines if x.row is not None]
            refused = [
                RefusedRow(line=x.line, serial=x.serial, reason=x.refused or "refused")
                for x in lines
                if x.row is None
            ]
        last = lines[-1].line if lines else req.after_line
        return BatchPage(rows=rows, refused=refused, last_line=last)
