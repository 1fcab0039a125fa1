"""The job queue, as functions on an open Session (``Store`` wraps each in a write transaction).

Life of a job: ``queued`` → (claimed by a worker) ``running`` → ``succeeded`` | ``failed`` |
``cancelled``. A claim gives the worker a lease; the worker renews it with ``heartbeat`` (or
``update_progress``). A running job whose lease expired — its worker died — is claimed again by the
next ``claim_next_job``; after ``max_attempts`` claims it is failed instead, so a job that kills its
workers cannot loop forever. Results already recorded by a dead worker stay in the store, and the next
worker skips candidates already verified in its environment.

Claiming is atomic: on PostgreSQL it selects with ``FOR UPDATE SKIP LOCKED``; on SQLite the write
transaction starts with ``BEGIN IMMEDIATE`` (see ``kernels_store.db``), which serializes claimers.
Operations by a worker check that it still holds the job and raise ``LeaseLostError`` otherwise.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from kernels_store.catalog import records_page, where_given
from kernels_store.errors import ActiveJobLimitError, LeaseLostError, NotFoundError
from kernels_store.models import FINISHED_JOB_STATUSES, JOB_STATUSES, Job, Task
from kernels_store.records import JobRecord, Page, hash_token

DEFAULT_LEASE_S = 60.0
DEFAULT_MAX_ATTEMPTS = 3


def job_record(row: Job) -> JobRecord:
    return JobRecord.from_row(row, json_dicts=("params", "progress"))


def create_job(
    session: Session,
    *,
    now: datetime,
    kind: str = "generate",
    task_id: str | None = None,
    params: Mapping[str, Any] | None = None,
    budget: int | None = None,
    owner_token: str | None = None,
    max_active: int | None = None,
) -> JobRecord:
    """Queue a job. Only the sha256 of ``owner_token`` is stored (``JobRecord.owned_by(token)``).

    ``max_active``: refuse (``ActiveJobLimitError``) when the owner already has that many jobs queued
    or running. The count and the insert are one atomic step: on PostgreSQL under a transaction-scoped
    advisory lock on the owner, on SQLite in the ``BEGIN IMMEDIATE`` transaction that serializes writers.
    """
    if task_id is not None and session.get(Task, task_id) is None:
        raise NotFoundError(f"no task {task_id!r} in the store")
    if budget is not None and budget < 0:
        raise ValueError("budget must be >= 0")
    owner_hash = None if owner_token is None else hash_token(owner_token)
    if max_active is not None:
        _check_active(session, owner_hash, max_active)
    row = Job(
        id=uuid.uuid4().hex,
        kind=kind,
        task_id=task_id,
        status="queued",
        params=dict(params or {}),
        budget=budget,
        progress={},
        owner_token_hash=owner_hash,
        cancel_requested=False,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return job_record(row)


def _check_active(session: Session, owner_hash: str | None, limit: int) -> None:
    """Raise ``ActiveJobLimitError`` when the owner has ``limit`` jobs queued or running, holding the
    owner's lock until the transaction ends (so a concurrent creation counts this one)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int(hashlib.sha256(f"kiln-active-jobs:{owner_hash}".encode()).hexdigest()[:15], 16)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    owned = Job.owner_token_hash.is_(None) if owner_hash is None else Job.owner_token_hash == owner_hash
    active = session.scalar(select(func.count()).select_from(Job).where(owned, Job.status.in_(("queued", "running"))))
    if (active or 0) >= limit:
        raise ActiveJobLimitError(int(active or 0), limit)


def get_job(session: Session, job_id: str) -> JobRecord | None:
    row = session.get(Job, job_id)
    return None if row is None else job_record(row)


def _finish(row: Job, status: str, now: datetime, error: str | None = None) -> None:
    row.status = status
    row.finished_at = row.updated_at = now
    row.lease_expires_at = None
    if error is not None:
        row.error = error


def claim_next_job(
    session: Session,
    worker_id: str,
    *,
    now: datetime,
    lease_s: float = DEFAULT_LEASE_S,
    kinds: Iterable[str] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> JobRecord | None:
    """Atomically take the oldest queued job, or a running one whose lease expired (its worker
    died), for ``worker_id``, leased for ``lease_s`` seconds. None when nothing is claimable."""
    if not worker_id:
        raise ValueError("worker_id must be a non-empty string")
    claimable = or_(Job.status == "queued", and_(Job.status == "running", Job.lease_expires_at < now))
    query = select(Job).where(claimable)
    if kinds is not None:
        query = query.where(Job.kind.in_(list(kinds)))
    query = query.order_by(Job.created_at, Job.id).limit(1).with_for_update(skip_locked=True)
    while True:
        row = session.execute(query).scalar_one_or_none()
        if row is None:
            return None
        if row.status == "running":  # its worker stopped renewing the lease
            if row.cancel_requested:
                _finish(row, "cancelled", now)
                session.flush()
                continue
            if row.attempts >= max_attempts:
                _finish(row, "failed", now, f"worker lost {row.attempts} times (last: {row.worker_id}); gave up")
                session.flush()
                continue
        row.status = "running"
        row.worker_id = worker_id
        row.lease_expires_at = now + timedelta(seconds=lease_s)
        row.heartbeat_at = now
        row.attempts += 1
        row.started_at = row.started_at or now
        row.updated_at = now
        session.flush()
        return job_record(row)


def _held(session: Session, job_id: str, worker_id: str) -> Job:
    row = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no job {job_id!r} in the store")
    if row.status != "running" or row.worker_id != worker_id:
        holder = f"worker {row.worker_id}" if row.status == "running" else f"status {row.status}"
        raise LeaseLostError(f"job {job_id} is no longer held by worker {worker_id} ({holder})")
    return row


def heartbeat(
    session: Session, job_id: str, worker_id: str, *, now: datetime, lease_s: float = DEFAULT_LEASE_S
) -> JobRecord:
    """Extend the worker's lease; check ``cancel_requested`` on the result. ``LeaseLostError`` when
    the worker no longer holds the job."""
    row = _held(session, job_id, worker_id)
    row.lease_expires_at = now + timedelta(seconds=lease_s)
    row.heartbeat_at = row.updated_at = now
    session.flush()
    return job_record(row)


def update_progress(
    session: Session,
    job_id: str,
    worker_id: str,
    progress: Mapping[str, Any],
    *,
    now: datetime,
    lease_s: float | None = DEFAULT_LEASE_S,
) -> JobRecord:
    """Replace the job's progress dict (and extend the lease unless ``lease_s`` is None)."""
    row = _held(session, job_id, worker_id)
    row.progress = dict(progress)
    row.updated_at = now
    if lease_s is not None:
        row.lease_expires_at = now + timedelta(seconds=lease_s)
        row.heartbeat_at = now
    session.flush()
    return job_record(row)


def finish_job(
    session: Session,
    job_id: str,
    worker_id: str,
    status: str,
    *,
    now: datetime,
    error: str | None = None,
    result: Any = None,
) -> JobRecord:
    """End the worker's job as succeeded, failed or cancelled (``LeaseLostError`` if not held)."""
    if status not in FINISHED_JOB_STATUSES:
        raise ValueError(f"a job finishes as one of {', '.join(FINISHED_JOB_STATUSES)}, not {status!r}")
    row = _held(session, job_id, worker_id)
    _finish(row, status, now, error)
    if result is not None:
        row.result = result
    session.flush()
    return job_record(row)


def release_job(session: Session, job_id: str, worker_id: str, *, now: datetime) -> JobRecord:
    """Hand a running job back to the queue (its worker is shutting down cleanly).

    The claim is not counted as a lost worker, so a service restarted many times does not use up
    the job's attempts; what the worker already recorded stays in the store.
    """
    row = _held(session, job_id, worker_id)
    row.status = "queued"
    row.worker_id = None
    row.lease_expires_at = None
    row.attempts = max(0, row.attempts - 1)
    row.updated_at = now
    session.flush()
    return job_record(row)


def request_cancel(session: Session, job_id: str, *, now: datetime) -> JobRecord:
    """Queued: cancelled at once. Running: ``cancel_requested`` is set for its worker. Finished: as is."""
    row = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no job {job_id!r} in the store")
    if row.status in FINISHED_JOB_STATUSES:
        return job_record(row)
    row.cancel_requested = True
    row.updated_at = now
    if row.status == "queued":
        _finish(row, "cancelled", now)
    session.flush()
    return job_record(row)


def list_jobs(
    session: Session,
    *,
    status: str | Iterable[str] | None = None,
    owner_token: str | None = None,
    task_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[JobRecord]:
    """Jobs, newest first; ``owner_token`` keeps the jobs created with that token."""
    query = select(Job)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        unknown = set(statuses) - set(JOB_STATUSES)
        if unknown:
            raise ValueError(f"unknown job status {sorted(unknown)}; statuses: {', '.join(JOB_STATUSES)}")
        query = query.where(Job.status.in_(statuses))
    query = where_given(
        query,
        (Job.owner_token_hash, None if owner_token is None else hash_token(owner_token)),
        (Job.task_id, task_id),
    )
    return records_page(session, query.order_by(Job.created_at.desc(), Job.id.desc()), job_record, limit, offset)
