"""Which tasks a bench run covers, and KernelBench problems persisted as store tasks.

``import_kernelbench`` (``kiln tasks import``) stores every problem of a directory as a task of family
``kernelbench``, idempotent by content hash: an unchanged file is left alone, a changed one becomes
the task's next version (older verifications keep pointing at the source they were verified
against, see ``Store.task_source``). A bad file gets one line and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kernels_store import Store, TaskRecord
from service.persistence import store_builtin
from service.task_lookup import find_task

FAMILY = "kernelbench"
SMALL_TIER_KEY = "small_tier"
"""Key of the stored task's ``extra`` that holds the shrinker's result for its current source."""


class SuiteError(ValueError):
    """The suite selects nothing or names something unknown (a bad input: exit 2)."""


@dataclass
class ImportLine:
    task_id: str | None
    path: str
    status: str
    """``created``, ``unchanged``, ``updated`` (a new version) or ``error``."""
    message: str = ""
    revision: int | None = None

    def text(self) -> str:
        if self.status == "error":
            return f"error     {self.message}"
        detail = f" (version {self.revision})" if self.status == "updated" else ""
        return f"{self.status:9s} {self.task_id}{detail}"


@dataclass
class ImportReport:
    directory: str
    prefix: str
    lines: list[ImportLine] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for line in self.lines if line.status == status)

    @property
    def task_ids(self) -> list[str]:
        return [line.task_id for line in self.lines if line.task_id and line.status != "error"]

    def summary(self) -> str:
        return (
            f"{len(self.task_ids)} problem(s) from {self.directory}: {self.count('created')} created, "
            f"{self.count('updated')} updated, {self.count('unchanged')} unchanged; {self.count('error')} bad file(s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "prefix": self.prefix,
            "tasks": [
                {"task_id": x.task_id, "path": x.path, "status": x.status, "message": x.message, "revision": x.revision}
                for x in self.lines
            ],
            "created": self.count("created"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "errors": self.count("error"),
        }


def _check_prefix(prefix: str) -> None:
    import tasks

    if prefix in tasks.families():
        raise SuiteError(f"prefix {prefix!r} is a built-in task family; choose another (e.g. kb)")


def import_kernelbench(
    store: Store, directory: str | Path, prefix: str = "kb", on_line: Callable[[ImportLine], None] | None = None
) -> ImportReport:
    """Persist every KernelBench problem under ``directory`` as a store task (see the module docstring).

    Raises ``SuiteError`` for a missing directory or a bad prefix; bad files are lines of the report.
    """
    import tasks

    _check_prefix(prefix)
    try:
        found, errors = tasks.scan_kernelbench_dir(directory, prefix=prefix)
    except (NotADirectoryError, tasks.TaskError) as e:
        raise SuiteError(str(e)) from None
    report = ImportReport(directory=str(directory), prefix=prefix)
    pending: list[tuple[str, ImportLine]] = [(str(p), ImportLine(None, str(p), "error", msg)) for p, msg in errors]
    for task in found:
        existing = store.get_task(task.id)
        extra: dict[str, Any] = {"origin": task.origin, "level": tasks.level_of(task.id), "prefix": prefix}
        shapes = [s.to_dict() for s in task.shapes]
        if existing is not None and existing.source_sha256 == task.sha256:
            # unchanged: keep what was learnt about it (its small tier)
            kept = existing.extra.get(SMALL_TIER_KEY)
            if kept is not None:
                extra[SMALL_TIER_KEY] = kept
            shapes = existing.shapes or shapes
        put = store.put_task(task.id, task.source, family=FAMILY, title=task.title, shapes=shapes, extra=extra)
        status = "created" if put.created else ("updated" if put.source_changed else "unchanged")
        pending.append((task.origin, ImportLine(task.id, task.origin, status, revision=put.task.revision)))
    for _, line in sorted(pending, key=lambda pair: _natural(pair[0])):
        report.lines.append(line)
        if on_line is not None:
            on_line(line)
    return report


def _natural(path: str) -> list[Any]:
    import re

    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path)]


@dataclass(frozen=True)
class SuiteTask:
    """One task of a run: the stored record, and the built-in task when it is one."""

    record: TaskRecord
    builtin: Any = None

    @property
    def id(self) -> str:
        return self.record.id


def resolve_suite(
    store: Store, *, suite: str | None = None, task_ids: Sequence[str] = (), kernelbench_dir: str | None = None
) -> tuple[str, list[SuiteTask]]:
    """The suite's name and its tasks, in order. Exactly one of the three selectors must be given."""
    import tasks

    given = [x for x in (suite, kernelbench_dir, list(task_ids) or None) if x]
    if len(given) != 1:
        raise SuiteError("give exactly one of --suite PREFIX, --kernelbench-dir DIR or --task ID")
    if kernelbench_dir is not None:
        report = import_kernelbench(store, kernelbench_dir)
        if not report.task_ids:
            raise SuiteError(f"no KernelBench problem found in {kernelbench_dir} ({report.count('error')} bad file(s))")
        records = [store.get_task(t) for t in report.task_ids]
        name = _suite_name(report.task_ids)
        return name, [SuiteTask(r) for r in records if r is not None]
    if suite is not None:
        prefix = suite.rstrip(".")
        builtin = [t for t in tasks.all_tasks() if t.id == prefix or t.id.startswith(prefix + ".")]
        stored = [
            r
            for r in store.list_tasks()
            if (r.id == prefix or r.id.startswith(prefix + ".")) and r.id not in {t.id for t in builtin}
        ]
        out = [SuiteTask(store_builtin(store, t), t) for t in builtin]
        out += [SuiteTask(r) for r in sorted(stored, key=lambda r: _natural(r.id))]
        if not out:
            raise SuiteError(
                f"no task id starts with {prefix!r} (built-in families: {', '.join(tasks.families())}; "
                "import KernelBench problems with `kiln tasks import DIR`)"
            )
        return prefix, out
    out = []
    for task_id in task_ids:
        try:
            found = find_task(store, task_id)
        except tasks.UnknownTaskError as e:
            raise SuiteError(str(e)) from None
        if found.builtin is None:
            out.append(SuiteTask(found.stored))  # type: ignore[arg-type]
        else:
            out.append(SuiteTask(store_builtin(store, found.builtin), found.builtin))
    if len({t.id for t in out}) != len(out):
        raise SuiteError("a task id is given twice")
    return ",".join(task_ids) if len(task_ids) <= 3 else f"{len(task_ids)} tasks", out


def _suite_name(task_ids: list[str]) -> str:
    """The longest common dotted prefix of the ids (``kb.level1``)."""
    parts = [t.split(".") for t in task_ids]
    common: list[str] = []
    for group in zip(*parts, strict=False):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    if len(common) == len(parts[0]) and len(parts) == 1:
        return task_ids[0]
    return ".".join(common) or "kernelbench"
