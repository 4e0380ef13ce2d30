"""The HTTP client every product adapter (TDX, HaloPSA, ServiceNow, PagerDuty) talks through.

A kept-alive connection is closed by the server after its own idle timeout (uvicorn, which
the stand-ins run, Node and Apache: 5 s; the products' own front ends keep theirs a minute
or two). httpx keeps an idle connection for 5 s too, so a request sent as the server gives
up on that connection meets a closed socket: httpx raises `ReadError`, and for a create that
is an uncertain answer (the ticket or task may exist), which the idempotent path settles
only after its wait of minutes. Seen in 2 of 110 bench runs against the stand-ins under
load. The pool here drops a connection idle for `KEEPALIVE_EXPIRY`, a second under the
shortest of those timeouts (the client would have to read an answer a second late to race
the server's close). Not shorter: TDX's calls are paced in rate windows, and a connection
kept over a window's pause is one not opened again. The paced batch of `deskflow bench`
with three workers took 1.10-1.12 times its bound with a 1 s expiry, 1.04-1.10 with 4 or 5 s.
"""

from __future__ import annotations

from typing import Any

import httpx

KEEPALIVE_EXPIRY = 4.0
# httpx's own pool sizes, which `httpx.Limits` would otherwise leave unbounded: a burst (a
# batch of 2,000 tickets) opens at most this many connections to one product at once.
LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY
)


def api_client(
    base_url: str, *, timeout: float | httpx.Timeout, **options: Any
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for one product's API, its idle connections dropped early."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        limits=LIMITS,
        **options,
    )
