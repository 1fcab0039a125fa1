"""The readable summary of a run: a rich table, one row per kernel, then the headline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.regress.results import OUTCOME_LABELS, KernelResult, RegressRun

if TYPE_CHECKING:
    from rich.console import Console

STYLES = {"holds": "green", "regressed": "bold red", "could_not_run": "yellow", "skipped": "dim"}


def _speedup(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "not timed"


def recorded_text(result: KernelResult) -> str:
    return f"{result.recorded.verdict}, {_speedup(result.recorded.speedup_eager)}"


def new_text(result: KernelResult) -> str:
    if result.rerun is None:
        return "-"
    return f"{result.rerun.verdict}, {_speedup(result.rerun.speedup_eager)}"


def reason_text(result: KernelResult) -> str:
    return "\n".join([result.reason, *(f"· {note}" for note in result.notes)])


def render_table(run: RegressRun, console: Console) -> None:
    """Print the table and the headline to ``console``."""
    from rich.table import Table

    table = Table(title=f"kiln regress: {run.database} ({run.selection}) on {run.device}", title_justify="left")
    for column, options in (
        ("task", {"no_wrap": True}),
        ("hardware", {}),
        ("kernel", {}),
        ("origin", {}),
        ("recorded", {}),
        ("new", {}),
        ("result", {"no_wrap": True}),
        ("reason", {"ratio": 1}),
    ):
        table.add_column(column, **options)  # type: ignore[arg-type]
    for r in run.results:
        table.add_row(
            r.task_id,
            f"{r.device_name}\n{r.hardware_fingerprint}" if r.device_name else r.hardware_fingerprint,
            r.kernel_label,
            r.origin_label,
            recorded_text(r),
            new_text(r),
            f"[{STYLES[r.outcome]}]{OUTCOME_LABELS[r.outcome]}[/]",
            reason_text(r),
        )
    console.print(table)
    for note in run.notes:
        console.print(f"note: {note}")
    console.print(f"[bold]{run.headline()}[/]", highlight=False)
