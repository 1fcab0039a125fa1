"""The registry of tasks by stable id: the built-in suite, plus any tasks registered at run time."""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable

from tasks.model import Task, TaskError


class UnknownTaskError(KeyError):
    """No task has this id. ``near`` lists the closest ids (possibly empty)."""

    def __init__(self, task_id: str, near: list[str]) -> None:
        super().__init__(task_id)
        self.task_id = task_id
        self.near = near

    def __str__(self) -> str:
        hint = f"; did you mean: {', '.join(self.near)}?" if self.near else ""
        return f"unknown task id {self.task_id!r}{hint} (`kiln tasks list` shows them all)"


_lock = threading.Lock()
_tasks: dict[str, Task] | None = None


def _registry() -> dict[str, Task]:
    global _tasks
    with _lock:
        if _tasks is None:
            from tasks.builtin import builtin_tasks

            built: dict[str, Task] = {}
            for task in builtin_tasks():
                if task.id in built:
                    raise TaskError(f"duplicate built-in task id {task.id}")
                built[task.id] = task
            _tasks = built
        return _tasks


def near_matches(task_id: str, ids: Iterable[str], n: int = 5) -> list[str]:
    """Ids close to ``task_id``: ones containing it (or its last part), then fuzzy matches."""
    ids = list(ids)
    needle = task_id.lower()
    tail = needle.rsplit(".", 1)[-1]
    contains = [i for i in ids if needle in i or (tail and tail in i.rsplit(".", 1)[-1])]
    fuzzy = difflib.get_close_matches(needle, ids, n=n, cutoff=0.5)
    out: list[str] = []
    for i in contains + fuzzy:
        if i not in out:
            out.append(i)
    return out[:n]


def get(task_id: str) -> Task:
    """The task with this id; ``UnknownTaskError`` (a KeyError) naming near matches otherwise."""
    reg = _registry()
    try:
        return reg[task_id]
    except KeyError:
        raise UnknownTaskError(task_id, near_matches(task_id, reg)) from None


def find(task_id: str) -> Task | None:
    """The task with this id, or None (a stored task, or no task at all)."""
    return _registry().get(task_id)


def all_tasks(family: str | None = None) -> list[Task]:
    """Every registered task (built-ins in their stable order, then registered ones), or one family's."""
    tasks = list(_registry().values())
    if family is not None:
        if family not in families():
            raise KeyError(f"unknown family {family!r}; families: {', '.join(families())}")
        tasks = [t for t in tasks if t.family == family]
    return tasks


def ids() -> list[str]:
    return list(_registry())


def families() -> list[str]:
    """Family names in the order their first task was registered."""
    out: list[str] = []
    for t in _registry().values():
        if t.family not in out:
            out.append(t.family)
    return out


def register(task_or_tasks: Task | Iterable[Task], replace: bool = False) -> None:
    """Add tasks (e.g. from ``load_kernelbench_dir``) to this process's registry.

    An id already taken raises ``TaskError`` unless ``replace`` is true (built-ins cannot be replaced).
    """
    new = [task_or_tasks] if isinstance(task_or_tasks, Task) else list(task_or_tasks)
    reg = _registry()
    with _lock:
        for t in new:
            old = reg.get(t.id)
            if old is not None and (not replace or old.origin == "builtin"):
                raise TaskError(f"task id {t.id} is already registered (from {old.origin})")
        for t in new:
            reg[t.id] = t


def unregister(task_id: str) -> None:
    """Remove a task registered at run time (built-ins stay)."""
    reg = _registry()
    with _lock:
        t = reg.get(task_id)
        if t is None:
            raise UnknownTaskError(task_id, near_matches(task_id, reg))
        if t.origin == "builtin":
            raise TaskError(f"built-in task {task_id} cannot be unregistered")
        del reg[task_id]
