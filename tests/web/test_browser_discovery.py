"""Without a Chromium the browser tests skip and say why, unless KILN_REQUIRE_BROWSER=1 makes it a failure."""

from __future__ import annotations

import pytest

from tests.web import browser


def test_no_chromium_skips_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "chromium_path", lambda: None)
    monkeypatch.delenv(browser.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="scripts/install-browser"):
        browser.require_chromium()


def test_no_chromium_fails_when_a_browser_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "chromium_path", lambda: None)
    monkeypatch.setenv(browser.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="KILN_REQUIRE_BROWSER=1"):
        browser.require_chromium()


def test_kiln_chromium_names_the_binary(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    binary = tmp_path / "my-chromium"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv(browser.CHROMIUM_ENV, str(binary))
    assert browser.chromium_path() == str(binary)
