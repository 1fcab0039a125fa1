"""Bench runs (``kiln bench``): a run's row, one row per task updated as the task runs, and listings.

Each write is small and committed at once, so an interrupted run loses nothing: candidates and
their verifications are stored by ``catalog`` as they are verified, and ``bench_run_tasks.verified``
maps each candidate verified in the run to its verification (what a resumed run does not repeat).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kernels_store.catalog import page_of, require_task, without_non_finite
from kernels_store.errors import NotFoundError
from kernels_store.models import RUN_STATUSES, RUN_TASK_STATUSES, RUN_VERDICTS, BenchRun, BenchRunTask
from kernels_store.records import Page, RunRecord, RunTaskRecord

RUN_TASK_FIELDS = (
    "status",
    "verdict",
    "reason",
    "reference_ok",
    "shapes",
    "changed_constants",
    "speedup_eager",
    "speedup_compiled",
    "seconds",
    "candidates",
    "best_candidate_id",
    "source_sha256",
)


def run_record(row: BenchRun) -> RunRecord:
    return RunRecord.from_row(row, json_dicts=("options", "summary"))


def run_task_record(row: BenchRunTask) -> RunTaskRecord:
    return RunTaskRecord.from_row(row, json_dicts=("shapes", "changed_constants", "verified"))


def create_run(
    session: Session,
    task_ids: Sequence[str],
    *,
    now: datetime,
    suite: str,
    tier: str,
    proposer: str,
    generator: str,
    executor: str,
    budget: int,
    device: str,
    device_name: str,
    hardware_fingerprint: str,
    options: Mapping[str, Any] | None = None,
) -> RunRecord:
    """A new bench run over stored tasks, each ``pending`` (fields: suite, tier, proposer, generator,
    executor, budget, device, device_name, hardware_fingerprint, options)."""
    if not task_ids:
        raise ValueError("a run needs at least one task")
    if len(set(task_ids)) != len(task_ids):
        raise ValueError("a run's task ids must be distinct")
    for task_id in task_ids:
        require_task(session, task_id)
    row = BenchRun(
        id=secrets.token_hex(8),
        suite=suite,
        tier=tier,
        proposer=proposer,
        generator=generator,
        executor=executor,
        budget=budget,
        device=device,
        device_name=device_name[:200],
        hardware_fingerprint=hardware_fingerprint,
        status="running",
        options=dict(options or {}),
        summary={},
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    for position, task_id in enumerate(task_ids):
        session.add(
            BenchRunTask(
                run_id=row.id,
                task_id=task_id,
                position=position,
                status="pending",
                reason="",
                shapes={},
                changed_constants={},
                verified={},
                seconds=0.0,
                candidates=0,
                updated_at=now,
            )
        )
    session.flush()
    return run_record(row)


def _run_row(session: Session, run_id: str) -> BenchRun:
    row = session.get(BenchRun, run_id)
    if row is None:
        raise NotFoundError(f"no bench run {run_id!r} in the store")
    return row


def _task_row(session: Session, run_id: str, task_id: str) -> BenchRunTask:
    row = session.execute(
        select(BenchRunTask).where(BenchRunTask.run_id == run_id, BenchRunTask.task_id == task_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"bench run {run_id!r} has no task {task_id!r}")
    return row


def update_run_task(session: Session, run_id: str, task_id: str, *, now: datetime, **fields: Any) -> RunTaskRecord:
    unknown = sorted(set(fields) - set(RUN_TASK_FIELDS))
    if unknown:
        raise ValueError(f"unknown run task fields: {', '.join(unknown)}")
    if "status" in fields and fields["status"] not in RUN_TASK_STATUSES:
        raise ValueError(f"run task status must be one of {', '.join(RUN_TASK_STATUSES)}")
    if fields.get("verdict") is not None and fields["verdict"] not in RUN_VERDICTS:
        raise ValueError(f"run task verdict must be one of {', '.join(RUN_VERDICTS)}")
    row = _task_row(session, run_id, task_id)
    for name, value in without_non_finite(fields).items():
        setattr(row, name, value)
    row.updated_at = now
    session.flush()
    return run_task_record(row)


def note_verified(
    session: Session, run_id: str, task_id: str, sha256: str, verification_id: int, *, now: datetime
) -> None:
    """Remember that candidate ``sha256`` was verified in this run (as ``verification_id``)."""
    row = _task_row(session, run_id, task_id)
    verified = dict(row.verified or {})
    verified[sha256] = verification_id
    row.verified = verified
    row.candidates = len(verified)
    row.updated_at = now
    session.flush()


def set_run_status(
    session: Session, run_id: str, status: str, *, now: datetime, summary: Mapping[str, Any] | None = None
) -> RunRecord:
    """running, completed or interrupted (and the run's summary)."""
    if status not in RUN_STATUSES:
        raise ValueError(f"run status must be one of {', '.join(RUN_STATUSES)}")
    row = _run_row(session, run_id)
    row.status = status
    if summary is not None:
        row.summary = without_non_finite(dict(summary))
    row.updated_at = now
    row.finished_at = now if status != "running" else None
    session.flush()
    return run_record(row)


def get_run(session: Session, run_id: str) -> RunRecord | None:
    row = session.get(BenchRun, run_id)
    return None if row is None else run_record(row)


def run_tasks(session: Session, run_id: str) -> list[RunTaskRecord]:
    """The run's tasks in run order, with their outcome so far (all of them: ``run_tasks_page`` for a page)."""
    rows = session.scalars(select(BenchRunTask).where(BenchRunTask.run_id == run_id).order_by(BenchRunTask.position))
    return [run_task_record(r) for r in rows]


def run_tasks_page(session: Session, run_id: str, *, limit: int = 200, offset: int = 0) -> Page[RunTaskRecord]:
    """One page of the run's tasks in run order (``total``: all of them)."""
    query = select(BenchRunTask).where(BenchRunTask.run_id == run_id).order_by(BenchRunTask.position, BenchRunTask.id)
    rows, total = page_of(session, query, limit, offset)
    return Page(items=[run_task_record(r) for r in rows], total=total, limit=limit, offset=offset)


def run_suites(session: Session) -> list[str]:
    """Every suite that has a run, sorted."""
    return list(session.scalars(select(BenchRun.suite).distinct().order_by(BenchRun.suite)))


def list_runs(session: Session, *, suite: str | None = None, limit: int = 50, offset: int = 0) -> Page[RunRecord]:
    """Bench runs, newest first."""
    query = select(BenchRun)
    if suite is not None:
        query = query.where(BenchRun.suite == suite)
    rows, total = page_of(session, query.order_by(BenchRun.created_at.desc(), BenchRun.id), limit, offset)
    return Page(items=[run_record(r) for r in rows], total=total, limit=limit, offset=offset)


def run_task_counts(session: Session, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per run: tasks in total, done, and per verdict."""
    out: dict[str, dict[str, int]] = {rid: {"tasks": 0, "done": 0} for rid in run_ids}
    if not run_ids:
        return out
    rows = session.execute(
        select(BenchRunTask.run_id, BenchRunTask.status, BenchRunTask.verdict, func.count())
        .where(BenchRunTask.run_id.in_(list(run_ids)))
        .group_by(BenchRunTask.run_id, BenchRunTask.status, BenchRunTask.verdict)
    ).all()
    for run_id, status, verdict, n in rows:
        counts = out[run_id]
        counts["tasks"] += n
        if status == "done":
            counts["done"] += n
        if verdict:
            counts[verdict] = counts.get(verdict, 0) + n
    return out


__all__ = [
    "create_run",
    "get_run",
    "list_runs",
    "note_verified",
    "run_task_counts",
    "run_tasks",
    "set_run_status",
    "update_run_task",
]
