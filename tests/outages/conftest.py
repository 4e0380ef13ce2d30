"""Outage and triage fixtures: their reference data on top of the ITSM tests' service desk,
and the ITSM tests' web app on loopback (the stand-ins deliver their webhooks to it)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from store.db import make_engine, session_factory
from store.reference import load_reference_file
from tests.itsm.conftest import desk_loaded, hooks  # noqa: F401  (fixtures shared with itsm)

HERE = Path(__file__).parent


NUMBERS = itertools.count(1)


@pytest.fixture
def processes_loaded(db_url: str, desk_loaded, sim) -> None:  # noqa: F811
    """Loaded for every test (cheap, idempotent), after the ITSM tests' narrower desk. The
    stand-ins number this test's tickets in a range of its own: ticket numbers are keys of
    the email log and the projections, which the whole session shares."""
    with session_factory(make_engine(db_url)).begin() as db:
        load_reference_file(HERE / "processes.yaml", db)
    base = 100_000 * next(NUMBERS)
    sim.halo.store.skip_to("ticket", base)
    sim.servicenow.store.skip_to("incident", base)
    sim.servicenow.store.skip_to("problem", base)
