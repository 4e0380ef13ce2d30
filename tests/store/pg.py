"""Session-scoped PostgreSQL for the store tests (the server itself: tests/pg_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pg_server import PostgresUnavailable, start_postgres


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a throwaway PostgreSQL server shared by the whole test session.

    Skips (with the reason) only when PostgreSQL is not installed; any other failure to
    start is an error, so a broken setup cannot pass as "skipped".
    """
    try:
        url, stop = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield url
    finally:
        stop()
