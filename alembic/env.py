"""Alembic environment for Kernel Kiln's store.

Run through ``kernels_store.migrate`` (``kiln db upgrade``), the engine arrives in
``config.attributes["engine"]``. Run through the ``alembic`` command with ``alembic.ini``, the URL is
``sqlalchemy.url`` if set there, else ``$KILN_DATABASE_URL``, else the default SQLite file.

Migrations run in one transaction. It takes SQLite's write lock at BEGIN and a transaction-level
advisory lock on PostgreSQL before reading the current revision, so two processes upgrading at once
apply each migration once.
"""

from __future__ import annotations

from logging.config import fileConfig

from sqlalchemy import Connection, text

from alembic import context
from kernels_store.db import database_url, for_writing, make_engine
from kernels_store.models import Base

config = context.config
target_metadata = Base.metadata
PG_MIGRATION_LOCK = 0x6B696C6E  # "kiln"

if config.config_file_name is not None and config.attributes.get("engine") is None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        transactional_ddl=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=database_url(config.get_main_option("sqlalchemy.url") or None), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
        context.run_migrations()


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    owned = engine is None
    if owned:
        engine = make_engine(config.get_main_option("sqlalchemy.url") or None)
    try:
        with for_writing(engine).connect() as connection:
            _run(connection)
    finally:
        if owned:
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
