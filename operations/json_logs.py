"""Logs as JSON lines: one event per line, with the ticket, workflow and activity it concerns.

A log shipper (journald, Docker, a Kubernetes node agent) then indexes every field, and an
operator finds everything about one ticket with `ticket_id="lsa-fy27.ABC123"`. The context
comes from the Temporal SDK's loggers (`activity.logger` and `workflow.logger` attach it as
`temporal_activity` / `temporal_workflow`), from the activity a plain logger is called in,
and from the current trace span. Redaction (`operations.log_redaction`) still applies: to
the message as the record is made, and here once more to the message and the traceback.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from temporalio import activity

from domain.refresh import workflow_id as refresh_workflow_id
from domain.settings import Settings
from operations import log_redaction

# Workflow ids that carry a ticket id after a prefix: "refresh-<ticket id>".
TICKET_WORKFLOW_PREFIXES = (refresh_workflow_id(""),)
# uvicorn's loggers keep their own handlers unless told otherwise; route them to the root.
OWN_HANDLER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def ticket_id_of(workflow_id: str | None) -> str | None:
    for prefix in TICKET_WORKFLOW_PREFIXES:
        if workflow_id and workflow_id.startswith(prefix):
            return workflow_id[len(prefix) :]
    return None


def _temporal_context(record: logging.LogRecord) -> dict[str, Any]:
    found: dict[str, Any] = {}
    wf = getattr(record, "temporal_workflow", None)
    act = getattr(record, "temporal_activity", None)
    if isinstance(wf, dict):
        found["workflow_id"] = wf.get("workflow_id")
        found["workflow_type"] = wf.get("workflow_type")
        found["run_id"] = wf.get("run_id")
    if isinstance(act, dict):
        found["workflow_id"] = act.get("workflow_id")
        found["workflow_type"] = act.get("workflow_type")
        found["run_id"] = act.get("workflow_run_id")
        found["activity"] = act.get("activity_type")
        found["attempt"] = act.get("attempt")
    elif activity.in_activity():
        info = activity.info()
        found["workflow_id"] = info.workflow_id
        found["workflow_type"] = info.workflow_type
        found["run_id"] = info.workflow_run_id
        found["activity"] = info.activity_type
        found["attempt"] = info.attempt
    ticket = getattr(record, "ticket_id", None) or ticket_id_of(found.get("workflow_id"))
    if ticket:
        found["ticket_id"] = ticket
    return {k: v for k, v in found.items() if v is not None}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": log_redaction.redact(record.getMessage()),
            **_temporal_context(record),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            event["trace_id"] = format(span.trace_id, "032x")
            event["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            event["error"] = log_redaction.redact(self.formatException(record.exc_info))
        return json.dumps(event, default=str, ensure_ascii=False)


def log_format(settings: Settings) -> str:
    """JSON everywhere but under `deskflow dev` and the tests, unless set explicitly."""
    return settings.log_format or ("text" if settings.dev else "json")


def configure(settings: Settings) -> None:
    """Send every record of this process to stderr in the configured format and level.

    Called by the process entry points (worker, web app), not by code tests import.
    """
    logging.config.dictConfig(uvicorn_log_config(settings))
    log_redaction.install()


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """The logging set-up of `configure`, also for `uvicorn.run(log_config=...)`."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if log_format(settings) == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"deskflow": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "deskflow",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": settings.log_level.upper()},
        "loggers": {name: {"handlers": [], "propagate": True} for name in OWN_HANDLER_LOGGERS},
    }
