"""Every deskflow metric an operator can scrape: its name, labels, meaning and who exports it.

One list, so the README, the exporters and the code that counts agree on the names. Counters
and gauges that activities and workflows change go through the Temporal SDK's metric meter
(`activity.metric_meter()`, `workflow.metric_meter()`, which skips replays), so each worker
serves them on the same Prometheus endpoint as the SDK's own runtime metrics. Gauges that
describe the whole system (tickets by status) are read from the app database by the web
app's `/metrics` at scrape time, so N workers never count a ticket N times.

Pure data plus two helpers that take the meter as an argument: nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


class _Counter(Protocol):
    def add(self, value: int, additional_attributes: dict[str, str] | None = None) -> None: ...


class _Gauge(Protocol):
    def set(self, value: int, additional_attributes: dict[str, str] | None = None) -> None: ...


class Meter(Protocol):
    """What `temporalio.common.MetricMeter` offers and these metrics use."""

    def create_counter(self, name: str, description: str | None = None) -> _Counter: ...
    def create_gauge(self, name: str, description: str | None = None) -> _Gauge: ...


Exporter = Literal["worker", "web app"]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Literal["counter", "gauge"]
    help: str
    labels: tuple[str, ...]
    exporter: Exporter
    # False: defined for a process still being built on another branch; nothing reports it yet.
    wired: bool = True

    def _attributes(self, labels: dict[str, str]) -> dict[str, str]:
        if set(labels) != set(self.labels):
            raise ValueError(f"{self.name} takes labels {self.labels}, got {tuple(labels)}")
        return {k: str(v) for k, v in labels.items()}

    def add(self, meter: Meter | None, value: int = 1, **labels: str) -> None:
        """Count `value` more (a counter); `meter=None` (not in a worker) counts nothing."""
        attributes = self._attributes(labels)
        if meter is not None:
            meter.create_counter(self.name, self.help).add(value, attributes)

    def set(self, meter: Meter | None, value: int, **labels: str) -> None:
        """Set a gauge reported by a worker."""
        attributes = self._attributes(labels)
        if meter is not None:
            meter.create_gauge(self.name, self.help).set(value, attributes)


TICKETS = Metric(
    "deskflow_tickets",
    "gauge",
    "Open and closed tickets by process and status, from the app database.",
    ("process", "status"),
    "web app",
)
EMAILS_SENT = Metric(
    "deskflow_emails_sent_total",
    "counter",
    "Emails handed to the SMTP server (a retry of an email already sent is not counted).",
    ("template",),
    "worker",
)
EMAILS_FAILED = Metric(
    "deskflow_emails_failed_total",
    "counter",
    "Emails the SMTP server refused or could not take (each attempt; Temporal retries).",
    ("template",),
    "worker",
)
TDX_CALLS = Metric(
    "deskflow_tdx_calls_total",
    "counter",
    "TeamDynamix API calls by method (HTTP verb and path, ids as {id}) and answer status.",
    ("method", "status"),
    "worker",
)
TDX_RATE_LIMITED = Metric(
    "deskflow_tdx_rate_limited_total",
    "counter",
    "TeamDynamix calls answered 429 (over TDX's per-method limit), by method.",
    ("method",),
    "worker",
)
ITSM_CALLS = Metric(
    "deskflow_itsm_calls_total",
    "counter",
    "ITSM (Halo) API calls by method and answer status.",
    ("method", "status"),
    "worker",
    wired=False,
)
ITSM_RATE_LIMITED = Metric(
    "deskflow_itsm_rate_limited_total",
    "counter",
    "ITSM (Halo) calls answered 429, by method.",
    ("method",),
    "worker",
    wired=False,
)
SLA_CLOCKS = Metric(
    "deskflow_sla_clocks",
    "gauge",
    "SLA clocks by process and state (running, paused, breached, met), from the app database.",
    ("process", "state"),
    "web app",
    wired=False,
)
PAGES_SENT = Metric(
    "deskflow_pages_sent_total",
    "counter",
    "On-call pages sent, by escalation policy.",
    ("policy",),
    "worker",
    wired=False,
)
PAGES_ACKNOWLEDGED = Metric(
    "deskflow_pages_acknowledged_total",
    "counter",
    "On-call pages acknowledged by a person, by escalation policy.",
    ("policy",),
    "worker",
    wired=False,
)
PROVISIONING = Metric(
    "deskflow_provisioning_in_progress",
    "gauge",
    "Provisioning requests under way, by step, from the app database.",
    ("step",),
    "web app",
    wired=False,
)

ALL = (
    TICKETS,
    EMAILS_SENT,
    EMAILS_FAILED,
    TDX_CALLS,
    TDX_RATE_LIMITED,
    ITSM_CALLS,
    ITSM_RATE_LIMITED,
    SLA_CLOCKS,
    PAGES_SENT,
    PAGES_ACKNOWLEDGED,
    PROVISIONING,
)
