"""The reference a stored kernel is re-verified against: the task's *stored* source, shapes and policy.

- source: the task's source in the store (its current one, even when the kernel was verified against
  an older one: that is the point of re-checking);
- shapes: ``shapes.plan_shapes`` over the stored task's declared shapes (or, when the store has none,
  the built-in task's of the same id) and the shapes named in the recorded report;
- tolerances and allowed aten ops: ``service.task_lookup.task_reference``'s rule (the built-in task's of
  the same id, else the stored task's ``extra``, else the verifier's defaults).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import tasks
from service.regress.shapes import DeclaredShape, ShapePlan, declared_shapes, plan_shapes
from service.task_lookup import task_reference

if TYPE_CHECKING:
    from kernels_store import TaskRecord
    from verifier import Reference


def task_shapes(task: TaskRecord) -> list[DeclaredShape]:
    """The stored task's declared shapes, else those of the built-in task with the same id."""
    stored = declared_shapes(task.shapes)
    if stored:
        return stored
    builtin = tasks.find(task.id)
    return declared_shapes([s.to_dict() for s in builtin.shapes]) if builtin is not None else []


def shape_plan(task: TaskRecord, recorded_shapes: list[str], device: str) -> ShapePlan:
    return plan_shapes(task_shapes(task), recorded_shapes, device)


def reference_for(task: TaskRecord, plan: ShapePlan) -> Reference:
    """The ``verifier.Reference`` to re-verify ``task``'s kernels with, on ``plan``'s shapes."""
    return task_reference(task.id, task.source, plan.shapes, task.extra)
