"""What the service writes to the store: tasks (built-in or submitted), candidates and verdicts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from kernels_store import Store

USER_TASK_PREFIX = "user."


class UnknownTask(LookupError):
    """A task id that is neither built in nor in the store."""


@dataclass(frozen=True)
class ResolvedTask:
    task_id: str
    source: str
    builtin: bool
    shapes: dict[str, dict[str, Any]]
    """Named shape configurations to verify on (empty: the reference as written)."""
    tolerances: dict[str, Any]
    allowed_ops: frozenset[str]

    def reference(self) -> Any:
        from verifier import Reference

        return Reference(
            source=self.source,
            name=self.task_id,
            shapes=self.shapes,
            tolerances=self.tolerances,
            allowed_ops=self.allowed_ops,
        )


def user_task_id(source: str) -> str:
    return USER_TASK_PREFIX + hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def resolve_task(
    store: Store, *, task_id: str | None, reference_source: str | None, device: str, register: bool = True
) -> ResolvedTask:
    """Register the task in the store (built-in task or submitted reference) and return how to verify it.

    ``register=False`` leaves a submitted reference out of the store (``register_task`` stores it once
    the verifier has accepted it as a reference: a refused reference leaves nothing behind).
    """
    import agents
    import tasks

    if reference_source is not None:
        tid = user_task_id(reference_source)
        if register:
            register_task(store, tid, reference_source)
        return ResolvedTask(tid, reference_source, False, {}, {}, frozenset())
    assert task_id is not None
    try:
        task = tasks.get(task_id)
    except KeyError:
        stored = store.get_task(task_id)
        if stored is None:
            raise UnknownTask(task_id) from None
        return ResolvedTask(stored.id, stored.source, False, stored_shapes(stored.shapes, device), {}, frozenset())
    store.put_task(
        task.id, task.source, family=task.family, title=task.title, shapes=[s.to_dict() for s in task.shapes]
    )
    # the generators' choice of shapes (agents.reference_for_task): on a GPU the papers' shapes first (the
    # first one is timed), then the small odd ones that catch masking bugs; on a CPU the small ones
    reference = agents.reference_for_task(task.id, device)
    shapes = {name: dict(params) for name, params in (reference.shapes or {}).items()}
    return ResolvedTask(task.id, task.source, True, shapes, dict(task.tolerances), frozenset(task.allowed_ops))


def register_task(store: Store, task_id: str, reference_source: str) -> None:
    """Store a submitted reference as the task ``task_id`` (``user.<hash>``); a no-op when it exists."""
    store.put_task(task_id, reference_source, family="user", title="submitted reference")


def stored_shapes(declared: Any, device: str) -> dict[str, dict[str, Any]]:
    """The shapes a stored task is verified on: its small ones on a CPU (an imported KernelBench problem's
    automatic small tier), on a GPU its realistic ones (as written) first, then the small ones; as
    written when it declares none (a submitted reference)."""
    shapes = [s for s in declared or [] if isinstance(s, dict) and isinstance(s.get("params"), dict)]
    small = {str(s["name"]): dict(s["params"]) for s in shapes if s.get("tier") == "small"}
    if device != "cuda":
        return small
    return {**{str(s["name"]): dict(s["params"]) for s in shapes if s.get("tier") != "small"}, **small}


def split_origin(origin: str) -> tuple[str, str]:
    """``llm:model-x`` -> (``llm``, ``model-x``); ``template`` -> (``template``, ``""``)."""
    kind, _, detail = origin.partition(":")
    return kind, detail


def record_candidate(
    store: Store,
    task_id: str,
    *,
    source: str,
    language: str,
    origin: str,
    report: Any,
    job_id: str | None = None,
    parent_sha256: str | None = None,
    params: dict[str, Any] | None = None,
    name: str = "",
) -> tuple[int, int, bool]:
    """Store a verified candidate and its verdict; returns (candidate id, verification id, new?)."""
    kind, detail = split_origin(origin)
    parent_id = None
    if parent_sha256:
        parent = store.find_candidate(task_id, parent_sha256)
        parent_id = parent.id if parent is not None else None
    added = store.add_candidate(
        task_id,
        source,
        language=language,
        origin=kind,
        origin_detail=detail,
        parent_id=parent_id,
        job_id=job_id,
        name=name,
        extra={"params": params or {}},
    )
    recorded = store.record_verification(added.candidate.id, report)
    return added.candidate.id, recorded.verification.id, recorded.created
