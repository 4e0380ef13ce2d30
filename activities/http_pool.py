"""The HTTP client every product adapter (TDX, HaloPSA, ServiceNow, PagerDuty) talks through.

A kept-alive connection is closed by the server after its own idle timeout (uvicorn, Node
and Apache: 5 s; gunicorn: 2 s; proxies: anything). httpx keeps an idle connection for 5 s
by default, so a request sent as the server gives up on that connection meets a closed
socket: httpx raises `ReadError` or `RemoteProtocolError`, and for a create that is an
uncertain answer (the ticket or task may exist), which the idempotent path settles only
after its wait of minutes. Seen in 2 of 110 bench runs against the stand-ins under load. The
pool here drops a connection idle for `KEEPALIVE_EXPIRY`, well before any common server
timeout; a busy adapter still reuses its connections, an idle one opens a fresh one.
"""

from __future__ import annotations

from typing import Any

import httpx

KEEPALIVE_EXPIRY = 1.0
# httpx's own pool sizes, which `httpx.Limits` would otherwise leave unbounded: a burst (a
# batch of 2,000 tickets) opens at most this many connections to one product at once.
LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY
)


def api_client(base_url: str, *, timeout: float, **options: Any) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for one product's API, its idle connections dropped early."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        limits=LIMITS,
        **options,
    )
