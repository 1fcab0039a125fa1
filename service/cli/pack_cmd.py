"""`kiln pack build` and `kiln pack check`: a compilation's verified kernels as an installable pack.

    kiln pack build COMPILATION --out DIR [--wheel] [--no-check] [--json]
    kiln pack check DIR [--json]

``build`` writes the pack (``service/compile/pack_build.py``) and runs its end-to-end check: the
model patched with the pack against eager on fresh inputs. ``check`` runs that check again.
Exit codes: 0 written and the check passed, 1 the check failed, 2 bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from service.cli.common import DATABASE_HELP, failer

EXIT_OK, EXIT_CHECK_FAILED, EXIT_BAD_INPUT = 0, 1, 2
_fail = failer("pack", EXIT_BAD_INPUT)

app = typer.Typer(help="Kernel packs: a compiled model's verified kernels, installable.", no_args_is_help=True)


def _print_check(check: dict[str, Any] | None) -> None:
    if not check:
        typer.echo("end-to-end check: not run", err=True)
        return
    stats = check.get("stats") or {}
    verdict = "passed" if check.get("passed") else "FAILED"
    typer.echo(
        f"end-to-end check {verdict}: {len(check.get('calls', []))} fresh input(s), "
        f"{stats.get('kernel_calls', 0)} kernel call(s), {stats.get('fallback_calls', 0)} fallback(s)"
        + (f"; {check['error']}" if check.get("error") else "")
        + "".join(f"\n  call {c['call']}: {c['detail']}" for c in check.get("calls", []) if not c.get("passed"))
        + "".join(
            f"\n  call {c['call']}: {c['degenerate']}: the match says little"
            for c in check.get("calls", [])
            if c.get("degenerate")
        ),
        err=True,
    )


@app.command("build")
def build(
    compilation: Path = typer.Argument(..., help="A compile's --out directory (or its compilation.json)."),
    out: Path = typer.Option(..., "--out", help="The pack directory to write."),
    wheel: bool = typer.Option(False, "--wheel", help="Also build a wheel of the pack (into DIR/dist)."),
    check: bool = typer.Option(True, "--check/--no-check", help="Run the end-to-end check (default: on)."),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as one JSON object."),
    url: str | None = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Write a compilation's verified kernels, manifest and runtime check into a pack directory."""
    from sqlalchemy.exc import SQLAlchemyError

    from kernels_store import StoreError, open_store
    from service.compile.compiler import read_compilation
    from service.compile.pack_build import PackBuildError, build_pack
    from service.compile.wheel import build_wheel

    try:
        data = read_compilation(compilation)
    except ValueError as e:
        _fail(str(e))
    try:
        store = open_store(url)
    except (SQLAlchemyError, StoreError) as e:
        _fail(f"cannot open the store: {e}")
    try:
        manifest = build_pack(store, data, out, check=check)
    except PackBuildError as e:
        _fail(str(e))
    typer.echo(f"kiln pack: wrote {out} ({len(manifest['kernels'])} kernel(s))", err=True)
    if wheel:
        path = build_wheel(out, manifest["name"], out / "dist")
        typer.echo(f"kiln pack: wrote {path}", err=True)
    if as_json:
        sys.stdout.write(json.dumps(manifest, indent=1) + "\n")
    _print_check(manifest.get("check"))
    failed = manifest.get("check") is not None and not manifest["check"].get("passed")
    raise typer.Exit(EXIT_CHECK_FAILED if failed else EXIT_OK)


@app.command("check")
def check_pack(
    pack: Path = typer.Argument(..., help="A pack directory."),
    as_json: bool = typer.Option(False, "--json", help="Print the check as one JSON object."),
) -> None:
    """Run the pack's end-to-end check again (patched model against eager on fresh inputs)."""
    import kernelkiln.pack
    from service.compile.pack_build import end_to_end_check

    try:
        manifest = kernelkiln.pack.read_manifest(pack)
    except kernelkiln.pack.PackError as e:
        _fail(str(e))
    result = end_to_end_check(pack, manifest)
    if as_json:
        sys.stdout.write(json.dumps(result, indent=1) + "\n")
    _print_check(result)
    raise typer.Exit(EXIT_OK if result.get("passed") else EXIT_CHECK_FAILED)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="pack")
