"""Metrics and traces of one deskflow process: what it exports, and where, from its settings.

Metrics: the Temporal SDK's Rust core serves Prometheus at `DESKFLOW_METRICS_BIND` — its own
runtime metrics (task latencies, slots, polls, schedule-to-start) and the deskflow series
that activities count through the same meter (`domain.metrics`). The Runtime that binds
the port is made once per process and handed to the Temporal client.

Traces: with `DESKFLOW_OTLP_TRACES_ENDPOINT` set, spans go over OTLP/HTTP; the SDK's tracing
interceptor (on the client, hence also on every worker made from it) carries the context
from a web request to the update it sends, and from a workflow to its activities and, through
the httpx instrumentation, to the HTTP calls they make (README "Traces" for the shape).
Unset, nothing is instrumented and nothing is exported.
"""

from __future__ import annotations

import logging
import threading

from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
)

from domain.settings import Settings

_lock = threading.Lock()
_runtimes: dict[str, Runtime] = {}
_tracing = False


def runtime(settings: Settings) -> Runtime | None:
    """The Runtime of a process that serves metrics (`metrics_bind` set; else None: the SDK's
    default). It serves Prometheus there and forwards the SDK core's own log lines to Python
    logging, so they come out in the process's format (JSON lines in production).

    A port can be bound once per process, so the Runtime is kept and returned again. Short
    commands (the CLI) keep the default Runtime: every extra Rust thread that calls into
    Python makes the SDK's crash at interpreter exit (sdk-python#300) more likely.
    """
    if not settings.metrics_bind:
        return None
    with _lock:
        found = _runtimes.get(settings.metrics_bind)
        if found is None:
            forward = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
            found = Runtime(
                telemetry=TelemetryConfig(
                    logging=LoggingConfig(filter=LoggingConfig.default.filter, forwarding=forward),
                    metrics=PrometheusConfig(bind_address=settings.metrics_bind),
                )
            )
            _runtimes[settings.metrics_bind] = found
        return found


def configure_tracing(settings: Settings, service: str) -> bool:
    """Export this process's spans over OTLP when an endpoint is set; True if tracing is on."""
    if settings.otlp_traces_endpoint and not _tracing:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_traces_endpoint))
        )
        enable_tracing(provider)
    return _tracing


def enable_tracing(provider: TracerProvider) -> None:
    """Send spans to `provider` and instrument outgoing HTTP (httpx) calls."""
    global _tracing
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)
    _tracing = True


def tracing_enabled() -> bool:
    return _tracing


def client_interceptors() -> list[Interceptor]:
    """The tracing interceptor when tracing is on (workers inherit it from their client)."""
    return [TracingInterceptor()] if _tracing else []
