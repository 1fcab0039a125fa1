"""`kiln db upgrade` and `kiln db current`: the store's schema migrations (alembic, configured in code).

Exit codes: 0 done, 1 (`current --check` only) the schema is not at head, 2 could not run.
"""

from __future__ import annotations

import typer

from service.cli.common import DATABASE_HELP, failer

EXIT_OK, EXIT_NOT_CURRENT, EXIT_ERROR = 0, 1, 2

sub = typer.Typer(name="db", help="The store's database schema: apply and inspect migrations.", no_args_is_help=True)


_fail = failer("db", EXIT_ERROR)


@sub.command("upgrade")
def upgrade(
    url: str | None = typer.Option(None, "--url", help=DATABASE_HELP),
    revision: str = typer.Option("head", "--revision", help="Target revision (default: the newest)."),
) -> None:
    """Apply migrations up to the newest schema (an empty database gets every table)."""
    from sqlalchemy.exc import SQLAlchemyError

    from kernels_store.db import make_engine, redacted
    from kernels_store.errors import StoreError
    from kernels_store.migrate import upgrade as run_upgrade

    try:
        engine = make_engine(url)
    except Exception as e:  # a malformed URL or a missing driver
        _fail(f"bad database URL: {e}")
    where = redacted(engine.url)
    try:
        result = run_upgrade(engine, revision)
    except (SQLAlchemyError, StoreError) as e:
        _fail(f"could not upgrade {where}: {e}")
    except Exception as e:  # alembic's CommandError (unknown revision) and friends
        _fail(f"could not upgrade {where}: {type(e).__name__}: {e}")
    finally:
        engine.dispose()
    if result.changed:
        typer.echo(f"kiln db: upgraded {where} from {result.before or 'an empty database'} to revision {result.after}")
    else:
        typer.echo(f"kiln db: {where} is already at revision {result.after}; nothing to do")


@sub.command("current")
def current(
    url: str | None = typer.Option(None, "--url", help=DATABASE_HELP),
    check: bool = typer.Option(False, "--check", help="Exit 1 when the schema is not at the newest revision."),
) -> None:
    """Show the database's schema revision and the newest one this kiln knows."""
    from sqlalchemy.exc import SQLAlchemyError

    from kernels_store.db import make_engine, redacted
    from kernels_store.migrate import current_revision, head_revision

    try:
        engine = make_engine(url)
    except Exception as e:
        _fail(f"bad database URL: {e}")
    try:
        revision, head = current_revision(engine), head_revision()
    except SQLAlchemyError as e:
        _fail(f"could not read {redacted(engine.url)}: {e}")
    finally:
        engine.dispose()
    state = "up to date" if revision == head else "behind: run `kiln db upgrade`"
    typer.echo(f"database: {redacted(engine.url)}")
    typer.echo(f"revision: {revision or 'none (empty database)'}")
    typer.echo(f"head:     {head} ({state})")
    if check and revision != head:
        raise typer.Exit(EXIT_NOT_CURRENT)


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="db")
