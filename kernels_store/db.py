"""Database URLs and engines: the default SQLite file, SQLite pragmas and write transactions.

The URL comes from, in order: an explicit argument, ``$KILN_DATABASE_URL``, or the default SQLite file
``$XDG_DATA_HOME/kernelkiln/kiln.sqlite`` (``~/.local/share/kernelkiln/kiln.sqlite`` when
``XDG_DATA_HOME`` is unset). The parent directory of a SQLite file is created on first use.
``postgresql://`` and ``postgres://`` URLs are given the psycopg 3 driver (``postgresql+psycopg://``).

SQLite connections run in WAL mode with a busy timeout and foreign keys on. SQLAlchemy, not the
``sqlite3`` module, emits ``BEGIN``: engines returned by ``for_writing`` begin with
``BEGIN IMMEDIATE``, so a write transaction takes SQLite's write lock up front (waiting up to the busy
timeout) instead of failing with "database is locked" when it upgrades from reading to writing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

DATABASE_URL_ENV = "KILN_DATABASE_URL"
SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "kiln_write"
"""Execution option set on write engines; the SQLite ``begin`` hook turns it into ``BEGIN IMMEDIATE``."""


def default_sqlite_path() -> Path:
    """``$XDG_DATA_HOME/kernelkiln/kiln.sqlite``, or ``~/.local/share/kernelkiln/kiln.sqlite``."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "kernelkiln" / "kiln.sqlite"


def database_url(url: str | None = None) -> str:
    """The URL to use: ``url``, else ``$KILN_DATABASE_URL``, else the default SQLite file."""
    chosen = url or os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{default_sqlite_path()}"
    return normalize_url(chosen)


def normalize_url(url: str) -> str:
    """Give bare PostgreSQL URLs the psycopg 3 driver (the only PostgreSQL driver installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redacted(url: str | URL) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str | None = None, **engine_kwargs: Any) -> Engine:
    """An engine for ``database_url(url)``; SQLite gets its pragmas and transaction hooks."""
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite":
        _create_sqlite_parent(parsed)
        engine = create_engine(parsed, **engine_kwargs)
        _install_sqlite_hooks(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        engine_kwargs.setdefault("pool_pre_ping", True)
        connect_args = engine_kwargs.setdefault("connect_args", {})
        connect_args.setdefault("connect_timeout", 10)
    return create_engine(parsed, **engine_kwargs)


def for_writing(engine: Engine) -> Engine:
    """The same engine (shared pool) whose transactions take SQLite's write lock at ``BEGIN``."""
    return engine.execution_options(**{WRITE_OPTION: True})


def _create_sqlite_parent(url: URL) -> None:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; the "begin" hook below emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
