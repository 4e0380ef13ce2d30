"""Web fixtures: staff accounts per role, the app on the test's Temporal client, helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from store.db import make_engine, session_factory
from store.reference import load_reference_file
from tests.web.helpers import BASE
from web.app import create_app
from web.config import WebSettings

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def staff_users(db_url: str) -> None:
    with session_factory(make_engine(db_url)).begin() as db:
        load_reference_file(HERE / "staff.yaml", db)


@pytest.fixture
async def web(env, worker, staff_users) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app (in-process ASGI) using the test's Temporal client."""
    app = create_app(worker, env.client, web_settings=WebSettings(_env_file=None, dev=True))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
