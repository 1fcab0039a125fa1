"""Which shapes a task is verified on, per device."""

from __future__ import annotations

import tasks
from verifier import Reference


def reference_for_task(task_id: str, device: str) -> Reference:
    """The task's ``Reference`` for generation on ``device`` ("cpu" or "cuda").

    CPU: the small tier (the Triton interpreter verifies it in seconds; nothing is timed).
    GPU: the realistic shapes first, then the small ones. The verifier times the first shape, so
    speedups are measured at a paper's shape, while the small odd shapes still catch masking bugs.
    Raises ``tasks.UnknownTaskError`` (a KeyError) for an unknown id.
    """
    task = tasks.get(task_id)
    if device == "cuda":
        names = task.shape_names("realistic") + task.shape_names("small")
        return task.reference(shapes=names)
    if task.shapes_in("small"):
        return task.reference(tier="small")
    return task.reference(tier="realistic")
