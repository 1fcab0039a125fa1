"""The reference a stored kernel is re-verified against: the task's *stored* source, shapes and policy.

- source: the task's source in the store (its current one, even when the kernel was verified against
  an older one: that is the point of re-checking);
- shapes: ``shapes.plan_shapes`` over the stored task's declared shapes (or, when the store has none,
  the built-in task's of the same id) and the shapes named in the recorded report;
- tolerances and allowed aten ops: the built-in task's of the same id when there is one (what the
  generator verified with), else ``tolerances``/``allowed_ops`` in the stored task's ``extra``, else the
  verifier's defaults (what a submitted reference is verified with).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from service.regress.shapes import DeclaredShape, ShapePlan, declared_shapes, plan_shapes

if TYPE_CHECKING:
    from kernels_store import TaskRecord
    from verifier import Reference, Tolerance


def _builtin(task_id: str) -> Any:
    import tasks

    try:
        return tasks.get(task_id)
    except KeyError:
        return None


def task_shapes(task: TaskRecord) -> list[DeclaredShape]:
    """The stored task's declared shapes, else those of the built-in task with the same id."""
    stored = declared_shapes(task.shapes)
    if stored:
        return stored
    builtin = _builtin(task.id)
    return declared_shapes([s.to_dict() for s in builtin.shapes]) if builtin is not None else []


def shape_plan(task: TaskRecord, recorded_shapes: list[str], device: str) -> ShapePlan:
    return plan_shapes(task_shapes(task), recorded_shapes, device)


def _tolerances(raw: Any) -> dict[str, Tolerance]:
    from verifier import Tolerance

    if not isinstance(raw, Mapping):
        return {}
    return {str(dtype): Tolerance(**dict(bound)) for dtype, bound in raw.items() if isinstance(bound, Mapping)}


def reference_for(task: TaskRecord, plan: ShapePlan) -> Reference:
    """The ``verifier.Reference`` to re-verify ``task``'s kernels with, on ``plan``'s shapes."""
    from verifier import Reference

    builtin = _builtin(task.id)
    if builtin is not None:
        tolerances, allowed_ops = dict(builtin.tolerances), frozenset(builtin.allowed_ops)
    else:
        tolerances = _tolerances(task.extra.get("tolerances"))
        allowed_ops = frozenset(str(op) for op in task.extra.get("allowed_ops") or ())
    return Reference(
        source=task.source, name=task.id, shapes=plan.shapes, tolerances=tolerances, allowed_ops=allowed_ops
    )
