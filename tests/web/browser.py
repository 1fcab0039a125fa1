"""Finding the headless Chromium the browser tests drive: Debian's ``chromium`` through Playwright.

Playwright's own browser download is never used (it needs the internet). No browser: the tests skip
with the reason, or fail when ``KILN_REQUIRE_BROWSER=1`` (CI; ``scripts/install-browser`` installs one).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REQUIRE_ENV = "KILN_REQUIRE_BROWSER"
CHROMIUM_ENV = "KILN_CHROMIUM"
SCREENSHOTS_ENV = "KILN_SCREENSHOT_DIR"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """``$KILN_CHROMIUM``, else ``/usr/bin/chromium``, else ``chromium``/``chromium-browser`` on PATH."""
    candidates = [os.environ.get(CHROMIUM_ENV), "/usr/bin/chromium", shutil.which("chromium")]
    candidates.append(shutil.which("chromium-browser"))
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def unavailable(reason: str) -> None:
    """Skip (or fail under ``KILN_REQUIRE_BROWSER=1``) saying why and how to fix it."""
    hint = "run scripts/install-browser (Debian's chromium) and install the dev extra (playwright)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1; {hint})", pytrace=False)
    pytest.skip(f"{reason}; {hint}, or set {REQUIRE_ENV}=1 to make this a failure")


def require_chromium() -> str:
    """The Chromium binary, after checking that Playwright is importable."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the playwright Python package is not installed")
    path = chromium_path()
    if path is None:
        unavailable(f"no Chromium found (/usr/bin/chromium, chromium on PATH or ${CHROMIUM_ENV})")
    assert path is not None
    return path


def screenshot_dir() -> Path:
    """Where screenshots go: ``$KILN_SCREENSHOT_DIR`` or ``tests/web/screenshots`` (git-ignored)."""
    path = Path(os.environ.get(SCREENSHOTS_ENV) or Path(__file__).parent / "screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path
