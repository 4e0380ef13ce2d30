"""Outage and triage fixtures: their reference data on top of the ITSM tests' service desk,
and the ITSM tests' web app on loopback (the stand-ins deliver their webhooks to it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.db import make_engine, session_factory
from store.reference import load_reference_file
from tests.itsm.conftest import desk_loaded, hooks  # noqa: F401  (fixtures shared with itsm)

HERE = Path(__file__).parent


@pytest.fixture
def processes_loaded(db_url: str, desk_loaded) -> None:  # noqa: F811
    """Loaded for every test (cheap, idempotent), after the ITSM tests' narrower desk."""
    with session_factory(make_engine(db_url)).begin() as db:
        load_reference_file(HERE / "processes.yaml", db)
