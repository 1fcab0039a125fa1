"""What docs/deploy.md says about migrations holds: SQLite stores migrate on start; a PostgreSQL store migrates on
start only with KILN_AUTO_MIGRATE=1, and otherwise `kiln serve` says how to migrate it."""

from __future__ import annotations

import pytest
import uvicorn
from typer.testing import CliRunner

from kernels_store import SchemaNotCurrentError, make_engine
from kernels_store.migrate import current_revision, head_revision
from service.app import create_app
from service.cli import app as cli
from service.settings import Settings


@pytest.mark.postgres
def test_an_empty_postgresql_store_is_migrated_on_start_only_when_asked(create_pg_database, monkeypatch) -> None:
    url = create_pg_database()
    monkeypatch.setenv("KILN_DATABASE_URL", url)
    monkeypatch.delenv("KILN_AUTO_MIGRATE", raising=False)
    with pytest.raises(SchemaNotCurrentError, match="kiln db upgrade"):
        create_app(Settings.from_env())
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("kiln serve started on an unmigrated store"))
    refused = CliRunner().invoke(cli, ["serve"])
    assert refused.exit_code == 2
    assert "kiln db upgrade" in refused.output and "KILN_AUTO_MIGRATE=1" in refused.output

    monkeypatch.setenv("KILN_AUTO_MIGRATE", "1")
    settings = Settings.from_env()
    assert settings.auto_migrate is True
    app = create_app(settings)
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
        app.state.kiln.store.close()


def test_the_setting_is_validated(monkeypatch) -> None:
    monkeypatch.setenv("KILN_AUTO_MIGRATE", "maybe")
    with pytest.raises(ValueError, match="KILN_AUTO_MIGRATE must be 1 or 0"):
        Settings.from_env()
