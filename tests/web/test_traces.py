"""One approver's submit, followed from the HTTP request to the TDX call it causes.

The Temporal SDK's tracing interceptor keeps a ticket's workflow spans in the ticket's own
trace (begun when it was started) and links each update's handling to the request that sent
it: request trace = web request → update; ticket trace = update handled → activity → HTTP.

Tracing is switched on the way a deployment does it (`operations.telemetry`), with an
in-memory exporter in place of OTLP; the web app, the Temporal client and the worker are the
real ones, on the time-skipping server and the TDX stand-in over loopback.
"""

from __future__ import annotations

import contextlib
from uuid import uuid4

import httpx
import pytest
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client

from domain.refresh import Status
from operations import telemetry
from tests.web.helpers import BASE, bearer, invited
from tests.workflows.helpers import reach, settle, ticket_input
from web.app import create_app
from web.config import WebSettings
from worker import build_workers


@pytest.fixture
def spans(monkeypatch):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "_tracing", False)
    telemetry.enable_tracing(provider)
    # The global tracer provider is set once per process; point the interceptor at ours.
    monkeypatch.setattr(
        telemetry,
        "client_interceptors",
        lambda: [telemetry.TracingInterceptor(provider.get_tracer("t"))],
    )
    yield exporter
    HTTPXClientInstrumentor().uninstrument()


class _Traced:
    """The test environment, but starting workflows through the traced client."""

    def __init__(self, env, client: Client) -> None:
        self._env = env
        self.client = client

    def __getattr__(self, name: str):
        return getattr(self._env, name)


def _parent(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> ReadableSpan | None:
    return by_id.get(span.parent.span_id) if span.parent else None


def _chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    current: ReadableSpan | None = span
    while current is not None:
        names.append(current.name)
        current = _parent(current, by_id)
    return list(reversed(names))


async def test_one_submit_traced_from_http_to_the_tdx_call(spans, env, settings, sim, staff_users):
    local = settings.model_copy(update={"task_queue": f"trace-{uuid4().hex[:8]}"})
    traced = Client(**{**env.client.config(), "interceptors": telemetry.client_interceptors()})
    sim.tdx.reset()
    async with contextlib.AsyncExitStack() as stack:
        for w in build_workers(traced, local):
            await stack.enter_async_context(w)
        inp = ticket_input("on_prem", "lsa-onprem")
        # Started through the traced client, as the batch's start activity does.
        [handle] = await invited(_Traced(env, traced), local, inp)
        await handle.execute_update("submit_wizard", {"location": "Angell Hall, 2001"})
        await reach(handle, Status.pending_approval)
        await handle.execute_update("approve", {"approver": "appr1"})
        await settle(handle, Status.pending_ordering)

        app = create_app(local, traced, web_settings=WebSettings(_env_file=None, dev=True))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as web:
            appr = await bearer(web, "appr1")
            spans.clear()
            r = await web.post(
                f"/api/tickets/{inp.ticket_id}/request_change",
                json={"description": "Needs a second monitor"},
                headers=appr,
            )
        assert r.status_code == 200, r.text

    finished = spans.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    wid = handle.id

    # The request's trace: the web request, and inside it the update sent to the ticket.
    [server] = [s for s in finished if s.name == "POST /api/tickets/{ticket_id}/request_change"]
    [update] = [s for s in finished if s.name == "StartWorkflowUpdate:request_change"]
    assert update.context.trace_id == server.context.trace_id
    assert _chain(update, by_id)[0] == server.name

    # The ticket's trace (begun when it was started): the workflow task that handled the
    # update, linked to the request, then the activity it ran and the TDX call it made.
    [handled] = [s for s in finished if s.name == "HandleUpdate:request_change"]
    assert handled.attributes["temporalWorkflowID"] == wid
    assert [link.context.span_id for link in handled.links] == [update.context.span_id]
    [tdx_post] = [
        s
        for s in finished
        if s.kind.name == "CLIENT"
        and s.attributes.get("http.method") == "POST"
        and str(s.attributes.get("http.url", "")).split("?")[0].endswith("/tickets")
    ]
    assert tdx_post.context.trace_id == handled.context.trace_id
    chain = _chain(tdx_post, by_id)  # (the ticket's start, earlier, was cleared above)
    assert chain == [
        "StartActivity:tdx_create_ticket",
        "RunActivity:tdx_create_ticket",
        "POST",
    ], chain
    run_activity = by_id[tdx_post.parent.span_id]
    assert run_activity.attributes["temporalWorkflowID"] == wid
    # The stand-in received TDX's change ticket, so the spans describe a call that happened.
    assert any("Needs a second monitor" in t["Description"] for t in sim.tdx.tickets.values())
