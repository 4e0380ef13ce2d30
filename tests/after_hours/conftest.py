"""After-hours fixtures: the tests' on-call reference data loaded once, the PagerDuty
stand-in emptied and put on Temporal's clock for every test."""

from __future__ import annotations

from pathlib import Path

import pytest

from store.db import make_engine, session_factory
from store.reference import load_reference_file

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def after_hours_loaded(db_url: str) -> None:
    with session_factory(make_engine(db_url)).begin() as db:
        load_reference_file(HERE / "after_hours.yaml", db)


@pytest.fixture
def paging(sim, after_hours_loaded):
    sim.paging.reset()
    sim.halo.reset()
    yield sim.paging
