"""Which shapes a task is verified on, per device (the rule is ``tasks.Task.reference_on``)."""

from __future__ import annotations

import tasks
from verifier import Reference


def reference_for_task(task_id: str, device: str) -> Reference:
    """The task's ``Reference`` for generation on ``device`` ("cpu" or "cuda"): ``Task.reference_on``.

    Raises ``tasks.UnknownTaskError`` (a KeyError) for an unknown id.
    """
    return tasks.get(task_id).reference_on(device)
