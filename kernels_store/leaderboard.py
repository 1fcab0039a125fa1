"""Queries derived from verifications: best kernel per task and hardware, counts per origin, totals.

Only *current* verifications count: accepted, verified by this deployment (not imported: see
``kernels_store.provenance``) and against the task's present reference source
(``verifications.reference_sha256 == tasks.source_sha256``). Within one task and hardware
fingerprint the best is the first in ``kernels_store.ranking``'s order. Modes are ranked apart: a
forward ranking counts forward verdicts only, a backward one backward verdicts only (a training step's
speedup never counts for the forward, nor the other way round).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.orm import Session

from kernels_store.catalog import candidate_record, verification_record
from kernels_store.models import JOB_STATUSES, Candidate, Job, Task, Verification
from kernels_store.ranking import COUNTS, IS_CURRENT, store_order
from kernels_store.records import BestKernel, OriginCount, StoreStats

_current = and_(Verification.verdict == "accepted", COUNTS)


def best_kernels(
    session: Session,
    *,
    task_id: str | None = None,
    hardware_fingerprint: str | None = None,
    imported: bool = False,
    mode: str = "forward",
) -> list[BestKernel]:
    """One ``BestKernel`` per (task, hardware fingerprint) among the verdicts of ``mode``, ordered by
    task id then fingerprint. ``imported``: the best of the verdicts imported from bundles instead,
    which count for nothing (what ``kiln regress`` re-verifies where this deployment has verified nothing)."""
    rank = (
        func.row_number()
        .over(
            partition_by=(Verification.task_id, Verification.hardware_fingerprint),
            order_by=store_order(),
        )
        .label("rank")
    )
    ranked = select(Verification.id.label("verification_id"), rank).join(Task, Task.id == Verification.task_id)
    if imported:
        ranked = ranked.where(Verification.verdict == "accepted", IS_CURRENT, Verification.provenance == "imported")
    else:
        ranked = ranked.where(_current)
    ranked = ranked.where(Verification.mode == mode)
    if task_id is not None:
        ranked = ranked.where(Verification.task_id == task_id)
    if hardware_fingerprint is not None:
        ranked = ranked.where(Verification.hardware_fingerprint == hardware_fingerprint)
    ranked_sq = ranked.subquery()
    rows = session.execute(
        select(Verification, Candidate)
        .join(ranked_sq, ranked_sq.c.verification_id == Verification.id)
        .join(Candidate, Candidate.id == Verification.candidate_id)
        .where(ranked_sq.c.rank == 1)
        .order_by(Verification.task_id, Verification.hardware_fingerprint)
    ).all()
    return [_best(v, c) for v, c in rows]


def _best(v: Verification, c: Candidate) -> BestKernel:
    return BestKernel(
        task_id=v.task_id,
        hardware_fingerprint=v.hardware_fingerprint,
        device_name=v.device_name,
        measured=v.speedup_eager is not None,
        speedup_eager=v.speedup_eager,
        speedup_compiled=v.speedup_compiled,
        candidate=candidate_record(c),
        verification=verification_record(v),
    )


def origin_counts(session: Session, *, task_id: str | None = None, mode: str = "forward") -> list[OriginCount]:
    """Candidates per (origin, origin_detail), and how many of them are accepted (currently, in ``mode``)."""
    accepted_ids = (
        select(Verification.candidate_id)
        .join(Task, Task.id == Verification.task_id)
        .where(_current, Verification.mode == mode)
    ).subquery()
    accepted = func.count(distinct(case((Candidate.id.in_(select(accepted_ids.c.candidate_id)), Candidate.id))))
    query = select(Candidate.origin, Candidate.origin_detail, func.count(Candidate.id), accepted).group_by(
        Candidate.origin, Candidate.origin_detail
    )
    if task_id is not None:
        query = query.where(Candidate.task_id == task_id)
    rows = session.execute(query.order_by(Candidate.origin, Candidate.origin_detail)).all()
    return [OriginCount(origin=o, origin_detail=d, candidates=n, accepted=a) for o, d, n, a in rows]


def stats(session: Session) -> StoreStats:
    def count(query: Any) -> int:
        return int(session.scalar(query) or 0)

    by_status = dict.fromkeys(JOB_STATUSES, 0)
    for status, n in session.execute(select(Job.status, func.count()).group_by(Job.status)):
        by_status[status] = n
    return StoreStats(
        tasks=count(select(func.count()).select_from(Task)),
        candidates=count(select(func.count()).select_from(Candidate)),
        verifications=count(select(func.count()).select_from(Verification)),
        accepted_verifications=count(
            select(func.count()).select_from(Verification).where(Verification.verdict == "accepted")
        ),
        jobs=sum(by_status.values()),
        jobs_by_status=by_status,
    )
