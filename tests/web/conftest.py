"""Fixtures of the web page tests: the store fixtures of tests/store (SQLite, and PostgreSQL when
reachable) and the live uvicorn servers of tests/service, reused as they are."""

from __future__ import annotations

from tests.service.conftest import make_server, server
from tests.store.conftest import clock, create_pg_database, db_url, pg_session_url, sqlite_template, store

__all__ = [
    "clock",
    "create_pg_database",
    "db_url",
    "make_server",
    "pg_session_url",
    "server",
    "sqlite_template",
    "store",
]
