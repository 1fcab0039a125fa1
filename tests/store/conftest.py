"""Fixtures for the store tests: every ``store`` test runs on SQLite and on PostgreSQL.

PostgreSQL: ``KILN_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
is the admin connection; the session creates uniquely named databases and drops them at the end.
Unreachable server: the PostgreSQL tests skip, or fail when ``KILN_REQUIRE_POSTGRES=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from kernels_store import Store, make_engine, open_store
from kernels_store.db import normalize_url, redacted
from kernels_store.migrate import upgrade

PG_ADMIN_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TABLES = ("verifications", "candidates", "jobs", "tasks")

CreateDatabase = Callable[[], str]


@pytest.fixture(scope="session")
def create_pg_database() -> Iterator[CreateDatabase]:
    """A factory of fresh, uniquely named, empty PostgreSQL databases (URLs), dropped at session end."""
    admin_url = normalize_url(os.environ.get("KILN_TEST_POSTGRES_URL") or PG_ADMIN_DEFAULT)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        admin.connect().close()
    except OperationalError as e:
        admin.dispose()
        reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        message = f"PostgreSQL unreachable at {redacted(admin_url)}: {reason}"
        if os.environ.get("KILN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{message} (KILN_REQUIRE_POSTGRES=1; scripts/ensure-postgres.sh starts one)", pytrace=False)
        pytest.skip(f"{message} (scripts/ensure-postgres.sh starts one; KILN_REQUIRE_POSTGRES=1 makes this fail)")
    prefix = f"kiln_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    created: list[str] = []

    def create() -> str:
        name = f"{prefix}_{len(created)}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        created.append(name)
        return make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    yield create
    with admin.connect() as connection:
        for name in created:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def pg_session_url(create_pg_database: CreateDatabase) -> str:
    """One PostgreSQL database migrated to head for the session (tables emptied before each test)."""
    url = create_pg_database()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    with sqlite3.connect(path) as connection:  # fold the WAL into the file before copying it
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at the newest schema with empty tables: a SQLite file, or the session's PostgreSQL one."""
    if request.param == "sqlite":
        path = tmp_path / "kiln.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_session_url")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    engine.dispose()
    return url


class FakeClock:
    """A clock the tests move by hand (lease expiry without sleeping)."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)  # distinct, increasing timestamps
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[Store]:
    opened = open_store(db_url, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def is_postgres(db_url: str) -> bool:
    return db_url.startswith("postgresql")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables at all."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite'}"
    create: Callable[[], str] = request.getfixturevalue("create_pg_database")
    return create()
