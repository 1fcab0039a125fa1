"""`kiln tasks list` and `kiln tasks show ID`: the task suite (docs/cli.md).

Heavy imports (torch via the tasks package) happen inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from service.cli.common import failer

if TYPE_CHECKING:
    from tasks import Task

EXIT_OK, EXIT_BAD_INPUT = 0, 2
DEFAULT_GPU = "h100"
"""``kiln tasks show`` without ``--hardware``: the H100 SXM's datasheet and measured profiles."""

sub = typer.Typer(
    name="tasks",
    help="The task suite: reference ops with shapes, tolerances and roofline figures, by stable id.",
    no_args_is_help=True,
)


_fail = failer("tasks", EXIT_BAD_INPUT)


def _load_extra(kernelbench_dir: Path | None, prefix: str) -> None:
    if kernelbench_dir is None:
        return
    import tasks

    try:
        tasks.register(tasks.load_kernelbench_dir(kernelbench_dir, prefix=prefix), replace=True)
    except (OSError, ValueError) as e:
        _fail(str(e))


def _console() -> Any:
    from rich.console import Console

    # Piped output (and tests) get a wide console rather than rich's 80-column fallback.
    return Console(width=None if sys.stdout.isatty() else 160)


def _human_count(x: float, unit: str) -> str:
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}"


def _ms(x: float) -> str:
    return f"{x * 1e3:.3g} us" if x < 0.1 else f"{x:.4g} ms"


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def _profiles(names: list[str]) -> tuple[str, ...]:
    """Profile ids for ``--hardware`` values (a GPU: its datasheet and measured profiles), in order."""
    import tasks

    found: list[str] = []
    for name in names or [DEFAULT_GPU]:
        try:
            found += tasks.profiles_named(name.strip().lower())
        except KeyError as e:
            _fail(str(e.args[0]) if e.args else str(e))
    return tuple(dict.fromkeys(found))


def _roofline_rows(task: Task, profiles: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    from tasks import roofline

    if not task.has_cost_model:
        return {}
    return {hw: [roofline(task, s, hw).to_dict() for s in task.shapes_in("realistic")] for hw in profiles}


def list_tasks(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array instead of a table."),
    family: str | None = typer.Option(None, "--family", "-f", help="Only this family's tasks."),
    kernelbench_dir: Annotated[
        Path | None,
        typer.Option("--kernelbench-dir", help="Also list the KernelBench problems in this directory (not run)."),
    ] = None,
    prefix: str = typer.Option("kb", "--prefix", help="Id prefix of tasks loaded with --kernelbench-dir."),
) -> None:
    """List the tasks (id, family, dtypes, shape counts, title)."""
    import tasks

    _load_extra(kernelbench_dir, prefix)
    try:
        selected = tasks.all_tasks(family=family)
    except KeyError as e:
        _fail(str(e.args[0]) if e.args else str(e))
    if as_json:
        rows = [
            {
                "id": t.id,
                "family": t.family,
                "title": t.title,
                "dtypes": t.dtypes(),
                "shapes": {tier: t.shape_names(tier) for tier in t.tiers()},  # type: ignore[arg-type]
                "origin": t.origin,
            }
            for t in selected
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return

    from rich.table import Table

    table = Table(title=f"{len(selected)} tasks", title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("family", no_wrap=True)
    table.add_column("dtypes")
    table.add_column("small", justify="right")
    table.add_column("realistic", justify="right")
    table.add_column("title")
    for t in selected:
        table.add_row(
            t.id,
            t.family,
            ", ".join(t.dtypes()) or "-",
            str(len(t.shapes_in("small"))),
            str(len(t.shapes_in("realistic"))),
            t.title,
        )
    _console().print(table)


def show(
    task_id: str = typer.Argument(..., help="Task id, e.g. dwconv2d.convnext_7x7."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    no_source: bool = typer.Option(False, "--no-source", help="Leave the reference source out."),
    kernelbench_dir: Annotated[
        Path | None,
        typer.Option("--kernelbench-dir", help="Also look up KernelBench problems in this directory (not run)."),
    ] = None,
    prefix: str = typer.Option("kb", "--prefix", help="Id prefix of tasks loaded with --kernelbench-dir."),
    hardware: Annotated[
        list[str] | None,
        typer.Option(
            "--hardware",
            help="Roofline on this GPU (h100, h200: its datasheet and measured profiles) or profile "
            "(h100-sxm, h100-sxm-measured, h200, h200-measured); repeatable. Default: h100.",
        ),
    ] = None,
) -> None:
    """Show one task: description, shapes, tolerances, allowed ops, roofline (H100 unless --hardware), source."""
    import tasks

    profiles = _profiles(list(hardware or []))
    _load_extra(kernelbench_dir, prefix)
    try:
        task = tasks.get(task_id)
    except tasks.UnknownTaskError as e:
        _fail(str(e))
        raise AssertionError("unreachable") from e
    rooflines = _roofline_rows(task, profiles)
    if as_json:
        out = task.to_dict(include_source=not no_source)
        out["roofline"] = rooflines
        out["hardware"] = {hw: tasks.get_hardware(hw).to_dict() for hw in profiles}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    _print_task(task, rooflines, profiles, include_source=not no_source)


def _print_task(
    task: Task, rooflines: dict[str, list[dict[str, Any]]], profiles: tuple[str, ...], include_source: bool
) -> None:
    from rich.table import Table

    import tasks

    con = _console()
    con.print(f"[bold]{task.id}[/bold]  ({task.family})  {task.title}", highlight=False)
    con.print(task.description, highlight=False, markup=False)
    if task.references:
        con.print("References: " + "; ".join(task.references), highlight=False, markup=False)
    con.print(f"Origin: {task.origin}    source sha256: {task.sha256[:16]}", highlight=False, markup=False)

    shapes = Table(title="Shapes", title_justify="left")
    for col in ("name", "tier", "parameters", "from"):
        shapes.add_column(col, no_wrap=col == "name")
    for s in task.shapes:
        shapes.add_row(s.name, s.tier, _params_text(dict(s.params)) or "(as written)", s.note)
    con.print(shapes)

    tols = Table(
        title="Tolerances (|c - r| <= atol + rtol |r| and ||c - r|| <= max_rel_l2 ||r||)", title_justify="left"
    )
    for col in ("dtype", "atol", "rtol", "max_rel_l2"):
        tols.add_column(col)
    if task.tolerances:
        for dtype, tol in task.tolerances.items():
            tols.add_row(dtype, f"{tol.atol:g}", f"{tol.rtol:g}", f"{tol.max_rel_l2:g}")
        con.print(tols)
    else:
        con.print("Tolerances: the verifier's defaults")
    con.print("Allowed aten ops beyond the verifier's allowlist: " + (", ".join(sorted(task.allowed_ops)) or "none"))

    if rooflines:
        names = ", ".join(tasks.get_hardware(hw).name for hw in profiles)
        roof = Table(title=f"Roofline floor per realistic shape on {names}", title_justify="left")
        for col in ("shape", "dtype", "FLOPs", "min bytes", "FLOP/B", *(f"floor ({hw})" for hw in profiles)):
            roof.add_column(col, no_wrap=True)
        first = rooflines[profiles[0]]
        for i, a in enumerate(first):
            roof.add_row(
                a["shape"],
                str(a["dtype"]),
                _human_count(a["flops"], "FLOP"),
                _human_count(a["min_bytes"], "B"),
                f"{a['arithmetic_intensity']:.3g}",
                *(f"{_ms(rooflines[hw][i]['floor_ms'])} ({rooflines[hw][i]['bound']})" for hw in profiles),
            )
        con.print(roof)
        con.print(f"FLOP model: {task.flops_note}", highlight=False, markup=False)
        for hw_id in profiles:
            hw = tasks.get_hardware(hw_id)
            con.print(f"{hw_id}: {hw.name}", highlight=False, markup=False)
            con.print(
                f"  memory: {hw.memory_bandwidth.value / 1e12:.3g} TB/s "
                f"[{hw.memory_bandwidth.provenance}] {hw.memory_bandwidth.source}",
                highlight=False,
                markup=False,
            )
            for unit, fig in hw.compute.items():
                con.print(
                    f"  {unit}: {fig.value / 1e12:.4g} TFLOP/s [{fig.provenance}] {fig.source}",
                    highlight=False,
                    markup=False,
                )
    else:
        con.print("Roofline: no FLOP/byte model for this task.")

    if include_source:
        con.rule("reference source")
        con.print(task.source, highlight=False, markup=False)


def import_problems(
    directory: Path = typer.Argument(..., help="A KernelBench level directory, or a directory of levels."),
    prefix: str = typer.Option("kb", "--prefix", help="Id prefix: <prefix>.<levelN>.<file stem>."),
    url: str | None = typer.Option(None, "--database", help="Database URL (default: $KILN_DATABASE_URL or SQLite)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Persist KernelBench problems as tasks (family kernelbench). Idempotent by content hash: a changed
    file becomes the task's next version. Exit 0 all imported, 1 some files were not problems, 2 bad input."""
    from sqlalchemy.exc import SQLAlchemyError

    from kernels_store import StoreError, open_store
    from service.bench.suite import SuiteError, import_kernelbench

    try:
        store = open_store(url)
    except (SQLAlchemyError, StoreError) as e:
        _fail(f"cannot open the store: {e}")
        raise AssertionError("unreachable") from e
    echo = None if as_json else (lambda line: typer.echo(line.text()))
    try:
        report = import_kernelbench(store, directory, prefix=prefix, on_line=echo)
    except SuiteError as e:
        _fail(str(e))
        raise AssertionError("unreachable") from e
    finally:
        store.close()
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        typer.echo(report.summary())
    if not report.task_ids:
        typer.echo(f"kiln tasks import: error: no KernelBench problem in {directory}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    raise typer.Exit(1 if report.count("error") else EXIT_OK)


def register(app: typer.Typer) -> None:
    sub.command("list")(list_tasks)
    sub.command("show")(show)
    sub.command("import")(import_problems)
    app.add_typer(sub, name="tasks")
