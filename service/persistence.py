"""What the service writes to the store: tasks (built-in or submitted), candidates and verdicts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tasks
from kernels_store import Store, TaskRecord
from service.task_lookup import find_task, task_reference

if TYPE_CHECKING:
    from agents import CandidateResult
    from verifier import Reference

USER_TASK_PREFIX = "user."


@dataclass(frozen=True)
class ResolvedTask:
    task_id: str
    source: str
    builtin: bool
    reference: Reference
    """What kernels for the task are verified with on this server's device."""


def user_task_id(source: str) -> str:
    return USER_TASK_PREFIX + hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def resolve_task(
    store: Store, *, task_id: str | None, reference_source: str | None, device: str, register: bool = True
) -> ResolvedTask:
    """Register the task in the store (built-in task or submitted reference) and return how to verify it.

    ``register=False`` leaves a submitted reference out of the store (``register_task`` stores it once
    the verifier has accepted it as a reference: a refused reference leaves nothing behind). An unknown
    ``task_id`` raises ``tasks.UnknownTaskError``; a stored task whose tolerances ``service.task_extra``
    refuses is refused with 422 (``Refused``).
    """
    if reference_source is not None:
        tid = user_task_id(reference_source)
        if register:
            register_task(store, tid, reference_source)
        return ResolvedTask(tid, reference_source, False, task_reference(tid, reference_source, {}))
    assert task_id is not None
    found = find_task(store, task_id)
    if found.builtin is None:
        stored = found.stored
        assert stored is not None
        shapes = stored_shapes(stored.shapes, device)
        try:
            reference = task_reference(stored.id, stored.source, shapes, stored.extra)
        except ValueError as e:  # metadata stored before service.task_extra's rule, or by hand
            from service.refusals import Refused

            raise Refused(422, f"task {stored.id!r} cannot be verified here: its stored {e}") from None
        return ResolvedTask(stored.id, stored.source, False, reference)
    task = found.builtin
    store_builtin(store, task)
    return ResolvedTask(task.id, task.source, True, task.reference_on(device))


def store_builtin(store: Store, task: tasks.Task) -> TaskRecord:
    """Store a built-in task (its current source becomes the stored task's) and return the record."""
    put = store.put_task(
        task.id, task.source, family=task.family, title=task.title, shapes=[s.to_dict() for s in task.shapes]
    )
    return put.task


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


def record_result(
    store: Store,
    task_id: str,
    candidate: CandidateResult,
    *,
    job_id: str | None = None,
    more_params: dict[str, Any] | None = None,
) -> tuple[int, int, bool]:
    """``record_candidate`` for a generator's verified candidate (``agents.CandidateResult``), with
    ``more_params`` added to its parameters; returns (candidate id, verification id, new?)."""
    same = {name: getattr(candidate, name) for name in ("source", "language", "origin", "report", "parent_sha256")}
    params = {**candidate.params, **(more_params or {})}
    return record_candidate(store, task_id, job_id=job_id, params=params, **same)
