"""Fixtures of the operability tests: a database one migration behind, free ports."""

from __future__ import annotations

import socket

import pytest
from alembic import command

from store.db import alembic_config


@pytest.fixture
def behind_db(tmp_path) -> str:
    """A database migrated only to the first revision, as after deploying new code."""
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    command.upgrade(alembic_config(url), "0001")
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
