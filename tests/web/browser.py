"""Playwright on Debian's chromium (never a downloaded browser), and screenshots.

A missing chromium fails every browser test with the command that installs it: a suite that
skipped them silently would pass without ever opening a page. `DESKFLOW_SKIP_BROWSER=1` skips
them instead, on purpose; `DESKFLOW_CHROMIUM` names another chromium binary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """The chromium to launch; fails the test (or skips it, when DESKFLOW_SKIP_BROWSER=1)."""
    found = shutil.which(os.environ.get("DESKFLOW_CHROMIUM", "chromium"))
    if found is not None:
        return found
    if os.environ.get("DESKFLOW_SKIP_BROWSER") == "1":
        pytest.skip("chromium is not installed and DESKFLOW_SKIP_BROWSER=1")
    pytest.fail(
        "chromium is not installed: run `apt-get install -y chromium` "
        "(or set DESKFLOW_SKIP_BROWSER=1 to skip the browser tests)",
        pytrace=False,
    )


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator:
    """One chromium for the session (Debian's, never a downloaded one)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        await b.close()
