"""Migrations build the models' schema from an empty database; opening a store; URLs and pragmas."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect

from kernels_store import SchemaNotCurrentError, database_url, make_engine, open_store
from kernels_store.migrate import current_revision, downgrade, head_revision, schema_diff, upgrade

TABLES = {"tasks", "candidates", "verifications", "jobs"}


def test_migrations_from_empty_match_the_models_and_downgrade_cleanly(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        assert current_revision(engine) is None
        assert schema_diff(engine)  # an empty database differs from the models...

        result = upgrade(engine)
        assert (result.before, result.after) == (None, head_revision())
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert schema_diff(engine) == []  # ...and the migrated one does not

        assert not upgrade(engine).changed  # a second upgrade is a no-op
        downgrade(engine, "base")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def test_schema_diff_notices_drift(tmp_path: Path) -> None:
    """The comparison the test above relies on does see a difference between models and database."""
    engine = make_engine(f"sqlite:///{tmp_path / 'drift.sqlite'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_verifications_verdict")
        connection.exec_driver_sql("ALTER TABLE jobs ADD COLUMN stray INTEGER")
    diff = [str(d) for d in schema_diff(engine)]
    engine.dispose()
    assert any("ix_verifications_verdict" in d for d in diff)
    assert any("stray" in d for d in diff)


def test_open_store_migrates_a_fresh_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "kiln.sqlite"
    store = open_store(f"sqlite:///{path}")
    assert path.is_file()
    assert store.migration is not None and store.migration.after == head_revision()
    store.put_task("t", "src")
    store.close()
    reopened = open_store(f"sqlite:///{path}")
    assert reopened.migration is None and reopened.get_task("t") is not None
    reopened.close()
    with pytest.raises(SchemaNotCurrentError, match="kiln db upgrade"):
        open_store(f"sqlite:///{tmp_path / 'manual.sqlite'}", auto_upgrade=False)


@pytest.mark.postgres
def test_open_store_asks_for_kiln_db_upgrade_on_postgres(create_pg_database: Callable[[], str]) -> None:
    url = create_pg_database()
    with pytest.raises(SchemaNotCurrentError, match=r"is empty.*kiln db upgrade"):
        open_store(url)
    store = open_store(url, auto_upgrade=True)
    assert store.migration.after == head_revision()
    store.close()
    open_store(url).close()


def test_default_url_is_a_sqlite_file_under_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KILN_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert database_url() == f"sqlite:///{tmp_path}/xdg/kernelkiln/kiln.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert database_url() == f"sqlite:///{tmp_path}/home/.local/share/kernelkiln/kiln.sqlite"

    store = open_store()  # the default, created with its directory and migrated
    assert (tmp_path / "home/.local/share/kernelkiln/kiln.sqlite").is_file()
    store.close()

    monkeypatch.setenv("KILN_DATABASE_URL", "postgresql://u@db:5432/kiln")
    assert database_url() == "postgresql+psycopg://u@db:5432/kiln"
    assert database_url("sqlite:////x.sqlite") == "sqlite:////x.sqlite"  # an explicit URL wins


def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys")
        }
    engine.dispose()
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1}
    with sqlite3.connect(path) as raw:  # WAL mode is a property of the file
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
