"""The readable summary of a run: a rich table, one row per kernel, then the headline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.regress.results import OUTCOME_LABELS, KernelResult, RegressRun
from service.text import markup_safe

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
    for r in run.results:  # every cell is the store's text: control characters and markup escaped
        hardware = [r.device_name, r.hardware_fingerprint] if r.device_name else [r.hardware_fingerprint]
        table.add_row(
            markup_safe(r.task_id),
            "\n".join(markup_safe(part) for part in hardware),
            markup_safe(r.kernel_label),
            markup_safe(r.origin_label),
            markup_safe(recorded_text(r)),
            markup_safe(new_text(r)),
            f"[{STYLES[r.outcome]}]{OUTCOME_LABELS[r.outcome]}[/]",
            "\n".join(markup_safe(line) for line in reason_text(r).split("\n")),
        )
    console.print(table)
    for note in run.notes:
        console.print(f"note: {markup_safe(note)}")
    console.print(f"[bold]{markup_safe(run.headline())}[/]", highlight=False)
