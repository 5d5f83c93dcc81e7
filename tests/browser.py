"""Debian's headless Chromium through Playwright, for the tests of the project's pages (.ci/run installs it; a test
skips, saying why, where it cannot be had)."""

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium package
QUIET = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]  # fmt: skip - nothing asked of any host but the page's


def sync_playwright():
    """Playwright's sync_playwright, or the test skipped when Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM}: Debian's chromium package (apt-get install chromium; .ci/run installs it)")
    return pytest.importorskip("playwright.sync_api").sync_playwright()


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=QUIET)
