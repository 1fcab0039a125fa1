"""`kiln compile`: a whole model's kernel groups generated and verified (see ``service/compile``).

    kiln compile MODEL.py [--shape NAME=VALUE ...] [--tier small|as_written] [--out DIR]
                 [--proposer template|llm] [--fallback llm] [--budget N] [--workers N] [--json]

Progress on stderr; the per-group table (or, with --json, the compilation) on stdout; the
compilation is also ``DIR/compilation.json`` (the input of ``kiln pack build``). Running the same
command again into the same DIR resumes it. Exit codes: 0 completed, 1 interrupted, 2 bad input.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Any

import typer

from service.cli.common import DATABASE_HELP, device_option, failer, join_interruptibly, require_sandbox

EXIT_COMPLETED, EXIT_INTERRUPTED, EXIT_BAD_INPUT = 0, 1, 2
_fail = failer("compile", EXIT_BAD_INPUT)


def compile_model(
    model_path: Path = typer.Argument(..., help="A module in KernelBench format (Model, get_inputs, get_init_inputs)."),
    shape: list[str] | None = typer.Option(
        None, "--shape", help="NAME=VALUE: a top-level constant of the model (repeatable); overrides --tier."
    ),
    tier: str = typer.Option("small", "--tier", help="small (CPU-interpreter sizes) | as_written"),
    out: Path | None = typer.Option(None, "--out", help="Where compilation.json goes (default: compiled/<model>)."),
    proposer: str = typer.Option("template", "--proposer", help="template | llm"),
    fallback: str | None = typer.Option(
        None, "--fallback", help="llm: the groups the templates leave without a verified kernel go to the LLM."
    ),
    model: str | None = typer.Option(None, "--model", help="LLM model (default: KILN_LLM_MODEL)."),
    budget: int = typer.Option(4, "--budget", help="Most candidates verified per group."),
    workers: int = typer.Option(1, "--workers", help="Groups verified at the same time."),
    as_json: bool = typer.Option(False, "--json", help="Print the compilation as one JSON object."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    timeout: float = typer.Option(300.0, "--timeout", help="Wall-clock limit per sandbox or child process (s)."),
    trials: int = typer.Option(3, "--trials", help="Correctness trials per candidate."),
    url: str | None = typer.Option(None, "--database", help=DATABASE_HELP),
) -> None:
    """Split a model's forward into kernel groups and generate and verify a kernel for each."""
    from sqlalchemy.exc import SQLAlchemyError

    from agents.types import default_model
    from kernels_store import StoreError, open_store
    from service.bench.runner import BenchConfig
    from service.cli.bench_cmd import _Live
    from service.compile.children import ChildError
    from service.compile.compiler import CompileConfig, compile_model, model_name
    from service.compile.shapes import ShapeError, parse_shapes
    from service.executors import make_executor as make_verify_executor
    from verifier.hostinfo import describe_host

    if not model_path.is_file():
        _fail(f"{model_path}: no such file")
    if tier not in ("small", "as_written"):
        _fail(f"--tier must be small or as_written, not {tier!r}")
    try:
        overrides = parse_shapes(list(shape or []))
    except ShapeError as e:
        _fail(str(e))
    llm_model = model or default_model()
    try:  # the proposer, fallback and model checked before anything runs
        BenchConfig(proposer=proposer, fallback=fallback, model=llm_model)
    except ValueError as e:
        _fail(str(e))
    resolved = device_option(device, _fail)
    require_sandbox(_fail, device=resolved)
    try:
        store = open_store(url)
    except (SQLAlchemyError, StoreError) as e:
        _fail(f"cannot open the store: {e}")
    host = describe_host(resolved)
    config = CompileConfig(
        tier=tier,
        overrides=overrides,
        proposer=proposer,
        fallback=fallback,
        model=llm_model,
        budget=budget,
        device=resolved,
        timeout_s=timeout,
        trials=trials,
        workers=workers,
    )
    out_dir = out or Path("compiled") / model_name(model_path)
    cancel = threading.Event()
    box: dict[str, Any] = {}
    verifying = make_verify_executor("local")

    def note(message: str) -> None:
        typer.echo(f"kiln compile: {message}", err=True)

    live = _Live(0, 0, enabled=sys.stderr.isatty())

    def listener(event: dict[str, Any]) -> None:
        if event.get("type") == "run_started":
            live.total, live.done = event["total"], event["done"]
            if live.progress is not None:
                live.progress.update(live.bar, total=event["total"], completed=event["done"])
        live(event)

    with live:

        def target() -> None:
            try:
                box["compilation"] = compile_model(
                    store,
                    model_path,
                    out_dir,
                    config,
                    host,
                    listener=listener,
                    cancel=cancel,
                    verify_executor=verifying,
                    on_note=note,
                )
            except BaseException as e:  # reported below
                box["error"] = e

        thread = threading.Thread(target=target, name="kiln-compile", daemon=True)
        try:
            join_interruptibly(thread, cancel, "\ninterrupted: finishing the candidates being verified...")
        except KeyboardInterrupt:
            typer.echo("kiln compile: stopped; run the same command again to resume", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
    verifying.close()
    error = box.get("error")
    if isinstance(error, ChildError | ShapeError | ValueError):
        _fail(str(error))
    if error is not None:
        typer.echo(f"kiln compile: failed: {error!r}; run the same command again to resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    compilation = box["compilation"]
    _report(compilation, as_json)
    typer.echo(f"kiln compile: wrote {out_dir / 'compilation.json'}", err=True)
    if compilation.get("status") != "completed":
        typer.echo("kiln compile: interrupted; run the same command again to resume", err=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(EXIT_COMPLETED)


def _report(compilation: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(compilation, indent=1) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 180)
    table = Table(title=f"{compilation['name']}: {compilation['shape_note']}, {compilation['device_name']}")
    for col in ("#", "group", "key", "verdict", "speedup", "reason"):
        table.add_column(col, overflow="fold")
    for i, g in enumerate(compilation["groups"]):
        speed = f"{g['speedup_eager']:.2f}x" if g.get("speedup_eager") else "-"
        table.add_row(str(i), g["summary"][:40], g["key"][:12], g["verdict"], speed, str(g.get("reason", ""))[:90])
    console.print(table)
    c = compilation["coverage"]
    flops = f"{c['flops_share']:.1%}" if c.get("flops_share") is not None else "n/a"
    nbytes = f"{c['bytes_share']:.1%}" if c.get("bytes_share") is not None else "n/a"
    console.print(
        f"{c['verified']}/{c['groups']} groups ({c['verified_distinct']}/{c['distinct']} distinct) have a verified "
        f"kernel; they cover {flops} of the groups' FLOPs and {nbytes} of their bytes; "
        f"{len(compilation['in_pytorch'])} view op(s) stay in PyTorch",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command("compile")(compile_model)
