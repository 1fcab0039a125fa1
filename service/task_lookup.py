"""Task resolution by id: a built-in task (``tasks`` registry) or a task in the store, one rule for every caller.

A built-in id always wins over a stored task of the same id (the service stores built-in tasks too,
so that verdicts can point at them). An id that is neither raises ``tasks.UnknownTaskError``, whose
``near`` names the closest built-in ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tasks
from kernels_store import Store, TaskRecord

if TYPE_CHECKING:
    from verifier import Reference


@dataclass(frozen=True)
class FoundTask:
    """A task by id: ``builtin`` is the registry's task, else ``stored`` the store's record."""

    id: str
    builtin: tasks.Task | None = None
    stored: TaskRecord | None = None

    @property
    def source(self) -> str:
        return self.builtin.source if self.builtin is not None else self.stored.source  # type: ignore[union-attr]

    @property
    def family(self) -> str:
        return self.builtin.family if self.builtin is not None else self.stored.family  # type: ignore[union-attr]

    @property
    def title(self) -> str:
        return self.builtin.title if self.builtin is not None else self.stored.title  # type: ignore[union-attr]


def find_task(store: Store, task_id: str) -> FoundTask:
    """The built-in task ``task_id``, else the stored one; ``tasks.UnknownTaskError`` (with near ids) otherwise."""
    builtin = tasks.find(task_id)
    if builtin is not None:
        return FoundTask(task_id, builtin=builtin)
    stored = store.get_task(task_id)
    if stored is None:
        raise tasks.UnknownTaskError(task_id, near_ids(task_id))
    return FoundTask(task_id, stored=stored)


def require_task(store: Store, task_id: str) -> FoundTask:
    """``find_task``, refused with 404 naming close matches (``service.refusals.Refused``) when there is none."""
    from service.api.strict_json import shorten
    from service.refusals import Refused

    try:
        return find_task(store, task_id)
    except tasks.UnknownTaskError as e:
        hint = f"; did you mean {', '.join(e.near[:3])}?" if e.near else "; see GET /v1/tasks"
        raise Refused(404, f"unknown task id {shorten(task_id)!r}{hint}") from None


def near_ids(task_id: str) -> list[str]:
    """Built-in ids close to an unknown ``task_id`` (the registry's suggestions); [] for a built-in id."""
    from tasks.registry import near_matches

    return [] if tasks.find(task_id) is not None else near_matches(task_id, tasks.ids())


def task_reference(
    task_id: str, source: str, shapes: Mapping[str, Mapping[str, Any]], extra: Mapping[str, Any] | None = None
) -> Reference:
    """The ``verifier.Reference`` for ``source`` under the id ``task_id`` on ``shapes`` (empty: as written).

    Tolerances and allowed aten ops: the built-in task's of the same id when there is one (what the
    generator verified with), else the tighter ``tolerances`` in a stored task's ``extra``
    (``service.task_extra``: ``ValueError`` for ones it refuses), else the verifier's defaults (what a
    submitted reference is verified with). A stored task never widens the allowed ops.
    """
    from service.task_extra import check_task_extra, parse_tolerances
    from verifier import Reference

    builtin = tasks.find(task_id)
    if builtin is not None:
        tolerances, allowed_ops = dict(builtin.tolerances), frozenset(builtin.allowed_ops)
    else:
        extra = extra or {}
        check_task_extra(extra)
        tolerances, allowed_ops = parse_tolerances(extra.get("tolerances")), frozenset()
    return Reference(
        source=source,
        name=task_id,
        shapes={name: dict(params) for name, params in shapes.items()},
        tolerances=tolerances,
        allowed_ops=allowed_ops,
    )
