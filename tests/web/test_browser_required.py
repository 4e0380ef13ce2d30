"""A missing chromium fails `make test` and every browser test, loudly, with the command
that installs it; only DESKFLOW_SKIP_BROWSER=1 turns that into a skip."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.web.browser import ROOT, chromium_path

MISSING = {"DESKFLOW_CHROMIUM": "no-such-chromium-binary"}


def _make_check(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "DESKFLOW_SKIP_BROWSER"}
    return subprocess.run(
        ["make", "-s", "browser-check"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_make_test_refuses_to_start_without_chromium() -> None:
    refused = _make_check(**MISSING)
    assert refused.returncode != 0
    assert "apt-get install -y chromium" in refused.stderr
    assert _make_check(**MISSING, DESKFLOW_SKIP_BROWSER="1").returncode == 0


def test_a_browser_test_fails_without_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESKFLOW_CHROMIUM", MISSING["DESKFLOW_CHROMIUM"])
    monkeypatch.delenv("DESKFLOW_SKIP_BROWSER", raising=False)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium"):
        chromium_path()
    monkeypatch.setenv("DESKFLOW_SKIP_BROWSER", "1")
    with pytest.raises(pytest.skip.Exception):
        chromium_path()
