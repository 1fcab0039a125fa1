"""The built-in task families, one module each; `tasks()` in each returns its tasks in a stable order."""

from __future__ import annotations

from tasks.builtin import conv1d, dwconv2d, fftconv, general, graph
from tasks.model import Task

FAMILY_MODULES = (dwconv2d, conv1d, graph, fftconv, general)


def builtin_tasks() -> list[Task]:
    """Every built-in task, family by family."""
    out: list[Task] = []
    for module in FAMILY_MODULES:
        out.extend(module.tasks())
    return out
