"""The stand-ins' tests talk to them through deskflow's own clients, and the TDX client counts
TDX's rate windows in the app database: every test here points it at the tests' migrated one."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def app_database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKFLOW_DATABASE_URL", db_url)
