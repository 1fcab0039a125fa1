"""`kiln store export|import|stats`: ship a store (tasks, candidates, verifications) as a JSON Lines bundle.

Exit codes: 0 done, 2 bad input (unreadable file, malformed bundle: nothing is imported) or no database.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from service.cli.common import DATABASE_HELP, failer

if TYPE_CHECKING:
    from kernels_store import Store

EXIT_OK, EXIT_ERROR = 0, 2

sub = typer.Typer(
    name="store",
    help="The kernel store: export and import bundles, show counts.",
    no_args_is_help=True,
)


def _fail(command: str, message: str) -> NoReturn:
    failer(f"store {command}", EXIT_ERROR)(message)


def _open(command: str, url: str | None) -> Store:
    from sqlalchemy.exc import SQLAlchemyError

    from kernels_store import StoreError, open_store

    try:
        return open_store(url)
    except (SQLAlchemyError, StoreError) as e:
        _fail(command, f"cannot open the store: {e}")
    except Exception as e:  # a malformed URL or a missing driver
        _fail(command, f"bad database URL: {e}")
    raise AssertionError("unreachable")


@sub.command("export")
def export(
    file: str = typer.Argument(..., help="Bundle to write (.jsonl); '-' for stdout."),
    url: str | None = typer.Option(None, "--url", help=DATABASE_HELP),
    jobs: bool = typer.Option(False, "--jobs/--no-jobs", help="Include jobs (without owner tokens)."),
    task: list[str] | None = typer.Option(None, "--task", help="Export only this task (repeatable)."),
) -> None:
    """Write tasks, candidates and verifications (and jobs with --jobs) to FILE."""
    from kernels_store.bundle import export_bundle

    store = _open("export", url)
    try:
        if file == "-":
            summary = export_bundle(store, sys.stdout, include_jobs=jobs, task_ids=task or None)
        else:
            target = Path(file)
            # Write beside the target and rename, so a failed export never leaves half a bundle.
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    summary = export_bundle(store, out, include_jobs=jobs, task_ids=task or None)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except OSError as e:
        _fail("export", f"cannot write {file}: {e}")
    finally:
        store.close()
    typer.echo(f"kiln store export: wrote {file} from {store.url}: {summary.describe_written()}", err=True)


@sub.command("import")
def import_(
    file: str = typer.Argument(..., help="Bundle to read (.jsonl); '-' for stdin."),
    url: str | None = typer.Option(None, "--url", help=DATABASE_HELP),
    verify: bool = typer.Option(
        False,
        "--verify/--no-verify",
        help="Then re-verify the imported kernels here (kiln regress's rules); until then they count for nothing.",
    ),
    device: str = typer.Option("auto", "--device", help="With --verify: auto | cpu | cuda."),
) -> None:
    """Add FILE's records to the store in one transaction; records already there are skipped.
    Imported verdicts are shown as "imported, not verified here" and count for nothing until verified here."""
    from kernels_store import BundleError
    from kernels_store.bundle import import_bundle
    from service.bundle_policy import import_policy
    from service.settings import Settings

    try:
        policy = import_policy(file, Settings.from_env())
    except ValueError as e:
        _fail("import", f"bad setting: {e}")
    store = _open("import", url)
    try:
        if file == "-":
            summary = import_bundle(store, sys.stdin.buffer, policy)
        else:
            with open(file, "rb") as lines:
                summary = import_bundle(store, lines, policy)
        typer.echo(f"kiln store import: {file} into {store.url}: {summary.describe()}")
        if verify:
            _verify_imported(store, device)
    except BundleError as e:
        _fail("import", f"{file}: {e} (nothing was imported)")
    except OSError as e:
        _fail("import", f"cannot read {file}: {e}")
    finally:
        store.close()


def _verify_imported(store: Store, device: str) -> None:
    """Re-verify the best imported kernel of each task and hardware (``kiln regress``'s checks and
    recording): what passes is then verified here and counts."""
    from service.regress import RegressOptions, RegressSetupError, Selection, run_regress, select_targets
    from service.text import printable

    targets = [t for t in select_targets(store, Selection()) if t.imported]
    typer.echo(f"kiln store import: re-verifying {len(targets)} imported kernel(s) on this host", err=True)
    try:
        run = run_regress(store, targets, RegressOptions(device=device), selection="imported")
    except (RegressSetupError, ValueError) as e:
        _fail("import", f"imported, but cannot verify: {e} (the imported verdicts count for nothing)")
    for r in run.results:
        outcome = r.outcome.replace("_", " ")
        typer.echo(f"  {printable(r.task_id)} kernel #{r.candidate_id}: {outcome}: {printable(r.reason)}")


@sub.command("stats")
def stats(
    url: str | None = typer.Option(None, "--url", help=DATABASE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Count tasks, candidates, verifications and jobs."""
    store = _open("stats", url)
    try:
        counts = store.stats()
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps({"database": store.url, **counts.to_dict()}))
        return
    typer.echo(f"database:      {store.url}")
    typer.echo(f"tasks:         {counts.tasks}")
    typer.echo(f"candidates:    {counts.candidates}")
    typer.echo(f"verifications: {counts.verifications} ({counts.accepted_verifications} accepted)")
    by_status = ", ".join(f"{n} {status}" for status, n in counts.jobs_by_status.items() if n)
    typer.echo(f"jobs:          {counts.jobs}" + (f" ({by_status})" if by_status else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="store")
