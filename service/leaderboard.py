"""Leaderboard figures: best kernel per task and hardware, and KernelBench's fast_p per generator.

A *generator* is who made a kernel: the template compiler (``template``), each LLM model
(``llm:<model>``) or user uploads (``user``). fast_p is computed over a task list: the share of its
tasks where the generator has an accepted kernel with a GPU-timed speedup over eager above p
(p = 0 counts correctness alone). A kernel verified only on CPU counts for p = 0 and never above:
a speedup that was never measured on a GPU is not claimed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kernels_store import Store
from kernels_store.browse import GeneratorTaskResult

FAST_P_THRESHOLDS = (0.0, 1.0, 1.5, 2.0)


def generator_label(origin: str, origin_detail: str) -> str:
    """``template``, ``llm:<model>`` (``llm`` when the model is unknown) or ``user``."""
    if origin == "llm" and origin_detail:
        return f"llm:{origin_detail}"
    return origin


def fast_p_key(p: float) -> str:
    """The JSON key of threshold ``p`` in ``GET /v1/leaderboard``: ``fast_0``, ``fast_1``, ``fast_1.5``, ``fast_2``."""
    return f"fast_{p:g}"


def is_fast(speedup: float | None, p: float) -> bool:
    """Whether a task's best accepted kernel, with this GPU-timed speedup (None: not timed), counts at ``p``."""
    return p == 0 or (speedup is not None and speedup > p)


@dataclass(frozen=True)
class FastPCell:
    """fast_p at one threshold: ``count`` of the row's ``tasks`` (the share is derived, never stored)."""

    p: float
    count: int
    tasks: int

    @property
    def share(self) -> float:
        return self.count / self.tasks if self.tasks else 0.0


@dataclass(frozen=True)
class FastPRow:
    """One generator on one hardware: fast_p at every threshold over the task list."""

    generator: str
    hardware_fingerprint: str
    device_name: str
    tasks: int
    solved: int
    timed: int
    """Tasks where this generator's best kernel has a GPU timing; 0: fast_p above 0 says nothing."""
    cells: tuple[FastPCell, ...]

    def cell(self, p: float) -> FastPCell:
        return next(c for c in self.cells if c.p == p)

    def to_dict(self) -> dict[str, Any]:
        """The row as ``GET /v1/leaderboard`` gives it: counts, then a ``fast_<p>`` share per threshold."""
        out: dict[str, Any] = {
            "generator": self.generator,
            "hardware_fingerprint": self.hardware_fingerprint,
            "device_name": self.device_name,
            "tasks": self.tasks,
            "solved": self.solved,
            "timed": self.timed,
        }
        return out | {fast_p_key(c.p): c.share for c in self.cells}


def fast_p_rows(results: Iterable[GeneratorTaskResult], task_ids: list[str]) -> list[FastPRow]:
    """fast_p at each threshold for every (generator, hardware) pair, over ``task_ids``.

    ``results`` are best accepted speedups per (task, hardware, origin, origin_detail); results of
    tasks outside ``task_ids`` are ignored. A task a generator never solved counts as not fast.
    """
    wanted = set(task_ids)
    best: dict[tuple[str, str], dict[str, float | None]] = defaultdict(dict)
    devices: dict[str, str] = {}
    for result in results:
        if result.task_id not in wanted:
            continue
        key = (generator_label(result.origin, result.origin_detail), result.hardware_fingerprint)
        devices[result.hardware_fingerprint] = result.device_name
        speeds = best[key]
        speed = result.best_speedup_eager
        if result.task_id not in speeds or (speed is not None and speed > (speeds[result.task_id] or -1.0)):
            speeds[result.task_id] = speed
    n_tasks = len(task_ids)
    return [
        FastPRow(
            generator=generator,
            hardware_fingerprint=hardware,
            device_name=devices.get(hardware, ""),
            tasks=n_tasks,
            solved=len(speeds),
            timed=sum(1 for s in speeds.values() if s is not None),
            cells=tuple(
                FastPCell(p, sum(1 for s in speeds.values() if is_fast(s, p)), n_tasks) for p in FAST_P_THRESHOLDS
            ),
        )
        for (generator, hardware), speeds in sorted(best.items())
    ]


def leaderboard_data(store: Store, mode: str = "forward") -> dict[str, Any]:
    """``GET /v1/leaderboard``: the best kernels and fast_p of one mode (``forward``, or ``backward``:
    training kernels, ranked apart; a backward speedup never counts in the forward fast_p)."""
    import tasks
    from service.api.views import kernel_view

    task_ids = tasks.ids()
    kernels = [kernel_view(b, with_source=False).model_dump(mode="json") for b in store.best_kernels(mode=mode)]
    fast_p = fast_p_rows(store.generator_results(task_ids, mode=mode), task_ids)
    return {"mode": mode, "tasks": kernels, "fast_p": [row.to_dict() for row in fast_p], "task_count": len(task_ids)}
