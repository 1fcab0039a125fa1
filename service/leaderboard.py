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
    """The key a fast_p row holds threshold ``p`` under: ``fast_0``, ``fast_1``, ``fast_1.5``, ``fast_2``."""
    return f"fast_{p:g}"


def fast_p_rows(results: Iterable[GeneratorTaskResult], task_ids: list[str]) -> list[dict[str, Any]]:
    """fast_p at each threshold for every (generator, hardware) pair, over ``task_ids``.

    ``results`` are best accepted speedups per (task, hardware, origin, origin_detail); results of
    tasks outside ``task_ids`` are ignored. A task a generator never solved counts as not fast. Each
    row: generator, hardware_fingerprint, device_name, tasks, solved, timed (tasks with a GPU timing)
    and ``fast_<p>`` shares.
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
    rows = []
    n_tasks = max(len(task_ids), 1)
    for (generator, hardware), speeds in sorted(best.items()):
        row: dict[str, Any] = {
            "generator": generator,
            "hardware_fingerprint": hardware,
            "device_name": devices.get(hardware, ""),
            "tasks": len(task_ids),
            "solved": len(speeds),
            "timed": sum(1 for s in speeds.values() if s is not None),
        }
        for p in FAST_P_THRESHOLDS:
            fast = sum(1 for s in speeds.values() if p == 0 or (s is not None and s > p))
            row[fast_p_key(p)] = fast / n_tasks
        rows.append(row)
    return rows


def fast_p_table(store: Store, task_ids: list[str], *, hardware_fingerprint: str | None = None) -> list[dict[str, Any]]:
    """fast_p per (generator, hardware) over ``task_ids`` (one grouped query; see ``fast_p_rows``)."""
    results = store.generator_results(task_ids, hardware_fingerprint=hardware_fingerprint)
    return fast_p_rows(results, task_ids)


def leaderboard_data(store: Store) -> dict[str, Any]:
    import tasks
    from service.api.views import kernel_view

    task_ids = tasks.ids()
    kernels = [kernel_view(b, with_source=False).model_dump(mode="json") for b in store.best_kernels()]
    return {"tasks": kernels, "fast_p": fast_p_table(store, task_ids), "task_count": len(task_ids)}
