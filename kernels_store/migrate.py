"""Alembic migrations, configured in code: they work from any working directory.

The scripts live in ``alembic/`` at the repository root, found from this package's location
(``kernels_store/../alembic``), so an editable install or a checkout finds them; ``alembic.ini`` is
only for running the ``alembic`` command by hand from the repository root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from kernels_store.errors import SchemaNotCurrentError, StoreError

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


@dataclass(frozen=True)
class MigrationResult:
    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(engine: Engine) -> Any:
    """An ``alembic.config.Config`` for ``engine`` (passed to env.py, which uses it as is)."""
    from alembic.config import Config

    if not (ALEMBIC_DIR / "env.py").is_file():
        raise StoreError(f"alembic migrations not found at {ALEMBIC_DIR} (is kernelkiln installed from a checkout?)")
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(ALEMBIC_DIR)).get_current_head()
    if head is None:  # pragma: no cover - the repository ships migrations
        raise StoreError(f"no migrations in {ALEMBIC_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> MigrationResult:
    """Apply migrations up to ``revision``; concurrent callers wait for each other (no double apply)."""
    from alembic import command

    before = current_revision(engine)
    command.upgrade(alembic_config(engine), revision)
    return MigrationResult(before, current_revision(engine))


def downgrade(engine: Engine, revision: str) -> MigrationResult:
    """Revert migrations down to ``revision`` (``"base"``: drop every table). For tests and rollbacks."""
    from alembic import command

    before = current_revision(engine)
    command.downgrade(alembic_config(engine), revision)
    return MigrationResult(before, current_revision(engine))


def schema_diff(engine: Engine) -> list[Any]:
    """Alembic's autogenerate comparison of the database with the models; empty when they agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from kernels_store.models import Base

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def ensure_current(engine: Engine, *, auto_upgrade: bool) -> MigrationResult | None:
    """Check the schema is at head; upgrade it when ``auto_upgrade``, else raise ``SchemaNotCurrentError``.

    Returns what an upgrade did, or None when the schema was already current.
    """
    from kernels_store.db import redacted

    current, head = current_revision(engine), head_revision()
    if current == head:
        return None
    if auto_upgrade:
        return upgrade(engine)
    state = "is empty" if current is None else f"is at revision {current}"
    raise SchemaNotCurrentError(
        f"database {redacted(engine.url)} {state}, this kiln needs revision {head}: "
        f"run `kiln db upgrade --url {redacted(engine.url)}`"
    )
