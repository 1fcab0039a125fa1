"""The service's sandbox setting (KILN_SANDBOX, KILN_SANDBOX_IMAGE, kiln serve --sandbox) and its
readiness on /healthz."""

from __future__ import annotations

import pytest

from service.settings import Settings
from tests.service.conftest import LiveServer
from verifier.sandbox import isolation


def test_settings_read_the_sandbox_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_SANDBOX", "docker")
    monkeypatch.setenv("KILN_SANDBOX_IMAGE", "kernelkiln/worker:cpu")
    settings = Settings.from_env()
    assert (settings.sandbox, settings.sandbox_image) == ("docker", "kernelkiln/worker:cpu")
    monkeypatch.setenv("KILN_SANDBOX", "none")  # never for a service: it runs untrusted code
    with pytest.raises(ValueError, match="KILN_SANDBOX"):
        Settings.from_env()


def test_healthz_names_the_sandbox(server: LiveServer) -> None:
    expected = isolation.choose("auto").mechanism  # this host's choice (bwrap here, unshare without it)
    with server.client() as c:
        r = c.get("/healthz")
    assert r.status_code == 200 and r.json()["sandbox"] == expected


def test_healthz_is_degraded_without_a_usable_sandbox(make_server) -> None:
    server = make_server(sandbox="docker", sandbox_image="kernelkiln/no-such-image:0")
    with server.client() as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "degraded" and body["sandbox"].startswith("unavailable: docker sandbox unavailable")
