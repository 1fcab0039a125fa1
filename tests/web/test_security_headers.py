"""Security headers on every response (issue 24: none had nosniff, a CSP, X-Frame-Options or
Referrer-Policy): pages, the JSON API, the guard's own refusals and 404s. The browser test
(``test_browser.py``) checks that the pages pass the CSP."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from service.api.security_headers import CONTENT_SECURITY_POLICY
from service.app import create_app
from service.settings import Settings


def test_every_response_has_the_security_headers(tmp_path: Path) -> None:
    app = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'kiln.sqlite'}", workers=0, api_tokens=frozenset({"t"}))
    )
    with TestClient(app) as client:
        answers = {
            "page": client.get("/"),
            "task page": client.get("/tasks/general.softmax"),
            "runs page": client.head("/runs"),
            "json": client.get("/v1/tasks"),
            "404": client.get("/no/such/path"),
            "401 before the body": client.post("/v1/jobs", json={"task_id": "general.softmax"}),
            "stylesheet": client.get("/web/static/site.css"),
        }
        docs = client.get("/docs")
    for name, response in answers.items():
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer", name
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, name
    assert answers["401 before the body"].status_code == 401
    assert "script-src" not in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert docs.status_code == 200 and "content-security-policy" not in docs.headers  # Swagger UI's CDN script
    assert docs.headers["x-frame-options"] == "DENY"
