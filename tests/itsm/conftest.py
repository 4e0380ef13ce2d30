"""ITSM fixtures: the service desk's reference data, and the web app on a real loopback port
so the Halo and ServiceNow stand-ins deliver their webhooks to it over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn

from store.db import make_engine, session_factory
from store.reference import load_reference_file
from web.app import create_app
from web.config import WebSettings

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def desk_loaded(db_url: str) -> None:
    with session_factory(make_engine(db_url)).begin() as db:
        load_reference_file(HERE / "desk.yaml", db)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture
async def hooks(env, worker, sim, desk_loaded) -> AsyncIterator[str]:
    """deskflow's web app on 127.0.0.1:<free port>, with both ITSMs' webhooks pointed at it."""
    sim.halo.reset()
    sim.servicenow.reset()
    app = create_app(worker, env.client, web_settings=WebSettings(_env_file=None, dev=True))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = _Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    sim.point_webhooks(url)
    yield url
    await sim.halo.webhook.idle()
    await sim.servicenow.webhook.idle()
    sim.halo.webhook.configure(None, None)
    sim.servicenow.webhook.configure(None, None)
    server.should_exit = True
    await task
