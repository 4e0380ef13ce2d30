"""Shared fixtures: the stand-ins over loopback, a migrated database, a Temporal server.

Every workflow test gets its own time-skipping test server (it starts in about 0.1 s) so it
can move the clock to the exact local date it needs, and its own task queue.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import delete
from temporalio.testing import WorkflowEnvironment

from domain.settings import Settings
from operations.temporal_client import data_converter
from sim.app import SimServer
from starter.dev_server import register_search_attributes
from store.db import make_engine, migrate, session_factory
from store.reference import load_reference_file
from store.tables import TdxRateWindow
from tests.web.browser import browser  # noqa: F401 (the session's chromium, for every browser test)

# Tests run as development does (operations.deployment_checks): test secrets are accepted,
# also by the worker and web processes some tests start, which inherit this environment.
os.environ["DESKFLOW_DEV"] = "true"

HERE = Path(__file__).parent
TEST_SERVER = Path(sys.executable).with_name("temporal-test-server")


@pytest.fixture(scope="session")
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(
        http_port=0, smtp_port=0, tdx_limit=100_000, tdx_create_limit=100_000, slack_per_second=1000
    ) as server:
        yield server


@pytest.fixture(autouse=True)
def _faults_end_with_their_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """The stand-ins live as long as the session; a fault a test injected and never used up
    (a 500 on every create, say) would meet the next test on the same xdist worker that
    does not reset them (CI: the message fuzz test's setup hit a 500 left behind)."""
    yield
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").clear_faults()


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite by default; DESKFLOW_TEST_DB=postgresql runs the same tests on PostgreSQL."""
    stop = None
    if os.environ.get("DESKFLOW_TEST_DB") == "postgresql":
        from tests.pg_server import create_database, start_postgres

        server_url, stop = start_postgres()
        url = create_database(server_url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'deskflow.db'}"
    migrate(url)
    with session_factory(make_engine(url)).begin() as db:
        load_reference_file(HERE / "reference.yaml", db)
    yield url
    if stop is not None:
        stop()


@pytest.fixture(scope="session")
def settings(sim: SimServer, db_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=db_url,
        tdx_base_url=sim.tdx_base_url,
        slack_base_url=sim.slack_base_url,
        halo_base_url=sim.halo_base_url,
        servicenow_base_url=sim.servicenow_base_url,
        pagerduty_events_url=sim.paging_base_url,
        smtp_host="127.0.0.1",
        smtp_port=sim.smtp_port,
        public_url="http://deskflow.test",
        secret_key="test-secret",
        tdx_max_calls_per_minute=60_000,
        tdx_max_creates_per_minute=60_000,
    )


@pytest.fixture
def tdx_windows_forgotten(db_url: str) -> Iterator[None]:
    """No shared TDX window count before or after the test: for tests that tighten TDX's limits.

    The counts live in the session's database, and a window the test filled would otherwise
    hold the next test's calls back until it ends.
    """

    def forget() -> None:
        with session_factory(make_engine(db_url)).begin() as db:
            db.execute(delete(TdxRateWindow))

    forget()
    yield
    forget()


@pytest.fixture
async def env(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(settings), test_server_existing_path=str(TEST_SERVER)
    )
    await register_search_attributes(environment.client)
    async with environment:
        yield environment


@pytest.fixture
async def worker(
    env: WorkflowEnvironment, settings: Settings, sim: SimServer
) -> AsyncIterator[Settings]:
    """The real worker (all queues, real activities) on a fresh task queue; yields its settings."""
    from worker import build_workers

    sim.tdx.reset()
    sim.slack.reset()
    sim.mail.clear()
    local = settings.model_copy(update={"task_queue": f"deskflow-{uuid4().hex[:8]}"})
    async with contextlib.AsyncExitStack() as stack:
        for w in build_workers(env.client, local):
            await stack.enter_async_context(w)
        yield local
