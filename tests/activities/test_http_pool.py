"""A call after a pause never lands on a connection the product's server has just closed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from activities.http_pool import KEEPALIVE_EXPIRY, api_client

# The server gives up on a connection idle this long: just over the pool's expiry, under
# httpx's own 5 s.
SERVER_IDLE = KEEPALIVE_EXPIRY + 0.4
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A server on loopback answering with `handler`; its base URL."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


@pytest.fixture
async def keep_alive_server() -> AsyncIterator[str]:
    """Answers every request on a kept-alive connection, but a request arriving after the
    connection idled SERVER_IDLE meets the close the server had already decided on (the race
    a real server's keep-alive timer runs with the client's next request): no answer."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered_at: float | None = None
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                if answered_at is not None and time.monotonic() - answered_at >= SERVER_IDLE:
                    break
                writer.write(RESPONSE)
                await writer.drain()
                answered_at = time.monotonic()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    async with serving(serve) as url:
        yield url


async def test_a_call_after_the_servers_keep_alive_gets_its_answer(keep_alive_server):
    async with api_client(keep_alive_server, timeout=5) as http:
        assert (await http.post("tickets", json={})).status_code == 200
        await asyncio.sleep(SERVER_IDLE + 0.1)
        assert (await http.post("tickets", json={})).status_code == 200


async def test_a_default_pool_meets_the_closed_connection(keep_alive_server):
    """The stand-in server above does reproduce the race: httpx's own 5 s pool fails."""
    async with httpx.AsyncClient(base_url=keep_alive_server, timeout=5) as http:
        assert (await http.post("tickets", json={})).status_code == 200
        await asyncio.sleep(SERVER_IDLE + 0.1)
        with pytest.raises(httpx.TransportError):
            await http.post("tickets", json={})


async def test_a_burst_opens_a_bounded_number_of_connections():
    """150 calls at once to a slow product: they queue for at most 100 connections (httpx's
    own bound, which a pool built with only a keep-alive expiry would lift)."""
    open_now = most = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                await asyncio.sleep(0.2)
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        open_now -= 1
        writer.close()

    async with serving(serve) as url, api_client(url, timeout=10) as http:
        answers = await asyncio.gather(*(http.post("tickets", json={}) for _ in range(150)))
    assert [a.status_code for a in answers] == [200] * 150
    assert most == 100
