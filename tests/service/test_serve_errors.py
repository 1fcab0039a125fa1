"""``kiln serve`` on a PostgreSQL database that does not exist (issue 24) ended in an ``OperationalError``
traceback; it now says which database, why, and what to do, in one line (exit 2)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from service.cli import app
from tests.store.conftest import create_pg_database

__all__ = ["create_pg_database"]


@pytest.mark.postgres
def test_serve_on_a_missing_postgres_database_says_so(create_pg_database, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = make_url(create_pg_database()).set(database="kiln_no_such_database_24")
    monkeypatch.setenv("KILN_WORKERS", "0")  # the API only: no sandbox needed to reach the store
    result = CliRunner().invoke(
        app, ["serve", "--database", missing.render_as_string(hide_password=False), "--port", "1"]
    )
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "OperationalError" not in result.output
    assert "kiln serve: error: cannot open the store at postgresql+psycopg://" in result.output
    assert 'database "kiln_no_such_database_24" does not exist' in result.output
    assert "createdb" in result.output and "kiln db upgrade" in result.output
