"""`kiln regress`: re-verify the store's best kernels (rules in service/regress/README.md).

Exit codes: 0 every kernel holds, 1 a kernel regressed, 2 could not run (no store, bad bundle, empty
explicit selection, unusable device or verifier, every kernel skipped).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from service.cli.common import DATABASE_HELP

if TYPE_CHECKING:
    from kernels_store import Store
    from service.regress import RegressRun, Selection, Target

EXIT_COULD_NOT_RUN = 2


def _progress(message: str) -> None:
    typer.echo(f"[kiln regress] {message}", err=True)


@contextmanager
def _store(database: str | None, bundle: Path | None) -> Iterator[Store]:
    from service.regress.stores import bundle_store, open_database

    if bundle is not None:
        with bundle_store(bundle) as store:
            _progress(f"imported {bundle} into a temporary store (what this run records is discarded with it)")
            yield store
        return
    store = open_database(database)
    try:
        yield store
    finally:
        store.close()


def _emit(run: RegressRun | None, error: str | None, *, as_json: bool, junit: Path | None) -> None:
    """Print the table or the JSON object, and write the JUnit file."""
    from service.regress.junit import junit_tree, setup_error_tree, write_tree

    if junit is not None:
        try:
            write_tree(junit_tree(run) if run is not None else setup_error_tree(error or ""), junit)
        except OSError as e:
            typer.echo(f"kiln regress: error: cannot write {junit}: {e.strerror or e}", err=True)
            raise typer.Exit(EXIT_COULD_NOT_RUN) from None
    if as_json:
        failed = {"summary": {"exit_code": EXIT_COULD_NOT_RUN, "error": error}, "results": []}
        payload: dict[str, Any] = run.to_dict() if run is not None else failed
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    elif run is not None:
        from rich.console import Console

        from service.regress.render import render_table

        render_table(run, Console(width=None if sys.stdout.isatty() else 200))


def regress(
    junit: Path | None = typer.Option(
        None, "--junit", metavar="FILE", help="Also write JUnit XML to FILE (one testcase per kernel)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the table."),
    database: str | None = typer.Option(None, "--database", "--url", metavar="URL", help=DATABASE_HELP),
    bundle: Path | None = typer.Option(
        None,
        "--bundle",
        metavar="FILE",
        help="Check a store bundle (kiln store export) in a temporary SQLite store instead.",
    ),
    task: list[str] | None = typer.Option(None, "--task", metavar="ID", help="Only this task's kernels (repeatable)."),
    family: list[str] | None = typer.Option(
        None, "--family", metavar="FAMILY", help="Only this task family (repeatable)."
    ),
    hardware: list[str] | None = typer.Option(
        None,
        "--hardware",
        metavar="FINGERPRINT",
        help="Only kernels recorded for this hardware fingerprint (repeatable).",
    ),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda (speed is compared only on cuda)."),
    timeout: float = typer.Option(180.0, "--timeout", help="Wall-clock limit per sandbox process (s)."),
    repeats: int = typer.Option(3, "--repeats", help="Verifications per kernel on a GPU for the speed rule."),
    trials: int = typer.Option(3, "--trials", help="Correctness trials per verification (fresh seeds each)."),
    record: bool = typer.Option(
        True, "--record/--no-record", help="Write re-verifications to the store (see service/regress/README.md)."
    ),
    executor: str = typer.Option("local", "--executor", help="Where kernels are re-verified: local | ray."),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="The Ray head for --executor ray (default: KILN_RAY_ADDRESS, else auto)."
    ),
    pack: Path | None = typer.Option(
        None, "--pack", metavar="DIR", help="Re-verify a kernel pack's kernels instead (kiln pack build)."
    ),
) -> None:
    """Re-verify the store's best kernels. Exit 0 all hold, 1 a regression, 2 could not run."""
    from service.regress import RegressOptions, RegressSetupError, Selection, run_regress

    if pack is not None:
        _regress_pack(pack, device=device, timeout=timeout, trials=trials, as_json=as_json, junit=junit)

    if database is not None and bundle is not None:
        _fail("give --database or --bundle, not both", as_json=as_json, junit=junit)
    selection = Selection(tuple(task or ()), tuple(family or ()), tuple(hardware or ()))
    try:
        options = RegressOptions(device=device, timeout_s=timeout, repeats=repeats, trials=trials, record=record)
    except ValueError as e:
        _fail(str(e), as_json=as_json, junit=junit)
    verifier = None
    if executor != "local":
        from service.executors import make_executor

        try:  # on a cluster, kernels recorded for one fingerprint are re-verified on workers of that hardware
            verifier = make_executor(executor, ray_address=ray_address, hardware=hardware[0] if hardware else None)
        except ValueError as e:
            _fail(str(e), as_json=as_json, junit=junit)
    try:
        with _store(database, bundle) as store:
            targets = _targets(store, selection)
            run = run_regress(
                store, targets, options, progress=_progress, selection=selection.describe(), verifier=verifier
            )
    except RegressSetupError as e:
        _fail(str(e), as_json=as_json, junit=junit)
    finally:
        if verifier is not None:
            verifier.close()
    _emit(run, None, as_json=as_json, junit=junit)
    _progress(run.headline())
    raise typer.Exit(run.exit_code)


def _regress_pack(pack: Path, *, device: str, timeout: float, trials: int, as_json: bool, junit: Path | None) -> None:
    """``--pack DIR``: every kernel of the pack re-verified here, then its end-to-end check."""
    import kernelkiln.pack
    from service.compile.pack_regress import junit_tree, regress_pack
    from service.devices import resolve_device
    from service.regress.junit import write_tree

    try:
        kernelkiln.pack.read_manifest(pack)
        resolved = resolve_device(device)
    except (kernelkiln.pack.PackError, ValueError, RuntimeError) as e:
        _fail(str(e), as_json=as_json, junit=junit)
    run = regress_pack(pack, resolved, timeout_s=timeout, trials=trials, progress=_progress)
    if junit is not None:
        write_tree(junit_tree(run), junit)
    if as_json:
        sys.stdout.write(json.dumps(run.to_dict(), indent=2) + "\n")
    else:
        for case in run.cases:
            typer.echo(f"{case.outcome:14s} {case.name}: {case.reason}")
    _progress(run.headline())
    raise typer.Exit(run.exit_code)


def _targets(store: Store, selection: Selection) -> list[Target]:
    from sqlalchemy.exc import SQLAlchemyError

    from kernels_store import StoreError
    from service.regress import RegressSetupError, select_targets

    try:
        targets = select_targets(store, selection)
    except (SQLAlchemyError, StoreError) as e:
        raise RegressSetupError(f"cannot read the store at {store.url}: {e}") from None
    if not targets and selection.explicit:
        raise RegressSetupError(f"no best kernel in {store.url} matches the selection ({selection.describe()})")
    if targets:
        _progress(f"{len(targets)} kernel(s) to re-verify from {store.url} ({selection.describe()})")
    else:
        _progress(f"no best kernels in {store.url}: nothing to check")
    return targets


def _fail(message: str, *, as_json: bool, junit: Path | None) -> None:
    typer.echo(f"kiln regress: error: {message}", err=True)
    _emit(None, message, as_json=as_json, junit=junit)
    raise typer.Exit(EXIT_COULD_NOT_RUN)


def register(app: typer.Typer) -> None:
    app.command("regress")(regress)
