"""The latest best kernel per (task, hardware), including kernels whose task's reference has since changed.

``leaderboard.best_kernels`` counts only verifications against a task's *current* reference source.
When a task's source changes, its best kernels drop out of the leaderboard until something is verified
against the new source; ``kiln regress`` must still re-check them. ``latest_best_kernels`` returns, per
(task, hardware fingerprint):

- the current best (exactly what ``best_kernels`` returns), when there is one;
- otherwise the best accepted kernel against the most recent *earlier* reference source: the source of
  the latest accepted verification of that task on that hardware. Its ``verification.reference_sha256``
  then differs from the task's ``source_sha256``. Within that source the ranking is the leaderboard's
  (``kernels_store.ranking``);
- otherwise the best kernel *imported* from a bundle (``verification.provenance == "imported"``): a
  claim this deployment has not verified, which ``kiln regress`` re-verifies but never takes as a
  baseline.

The first two count only verdicts verified by this deployment. Each mode (``forward``, ``backward``,
``both``) has its own best kernels: ``mode=None`` returns them all, per (task, hardware, mode).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kernels_store.leaderboard import _best, best_kernels
from kernels_store.models import MODES, Candidate, Task, Verification
from kernels_store.ranking import VERIFIED_HERE, rank_key
from kernels_store.records import BestKernel

Pair = tuple[str, str]
"""(task id, hardware fingerprint)."""


def latest_best_kernels(
    session: Session,
    *,
    task_ids: Collection[str] | None = None,
    families: Collection[str] | None = None,
    hardware_fingerprints: Collection[str] | None = None,
    mode: str | None = "forward",
) -> list[BestKernel]:
    """For ``mode`` (None: every mode, each apart): ``best_kernels()`` plus, for each (task, hardware)
    with no kernel accepted against the task's current source, the best kernel accepted against its most
    recent earlier source (its ``verification.reference_sha256`` then differs from the task's), else the
    best imported one (not verified here): what ``kiln regress`` re-checks.
    Filters keep kernels whose task id, task family or fingerprint is in them (None: all)."""
    if mode is None:
        found = [
            b
            for m in MODES
            for b in latest_best_kernels(
                session, task_ids=task_ids, families=families, hardware_fingerprints=hardware_fingerprints, mode=m
            )
        ]
        return sorted(found, key=lambda b: (b.task_id, b.hardware_fingerprint, MODES.index(b.mode)))
    tasks = _selected_tasks(session, task_ids, families)
    if not tasks:
        return []

    def wanted(task_id: str, fingerprint: str) -> bool:
        return task_id in tasks and (hardware_fingerprints is None or fingerprint in hardware_fingerprints)

    single_task = next(iter(tasks)) if len(tasks) == 1 else None
    single_hw = next(iter(hardware_fingerprints)) if hardware_fingerprints and len(hardware_fingerprints) == 1 else None
    current = [
        b
        for b in best_kernels(session, task_id=single_task, hardware_fingerprint=single_hw, mode=mode)
        if wanted(b.task_id, b.hardware_fingerprint)
    ]
    covered = {(b.task_id, b.hardware_fingerprint) for b in current}
    stale = _stale_best(session, tasks, lambda pair: pair not in covered and wanted(*pair), mode)
    covered |= {(b.task_id, b.hardware_fingerprint) for b in stale}
    imported = [
        b
        for b in best_kernels(session, task_id=single_task, hardware_fingerprint=single_hw, imported=True, mode=mode)
        if (b.task_id, b.hardware_fingerprint) not in covered and wanted(b.task_id, b.hardware_fingerprint)
    ]
    return sorted(current + stale + imported, key=lambda b: (b.task_id, b.hardware_fingerprint))


def _selected_tasks(session: Session, task_ids: Collection[str] | None, families: Collection[str] | None) -> set[str]:
    """The ids of the tasks passing the filters."""
    query = select(Task.id)
    if task_ids is not None:
        query = query.where(Task.id.in_(list(task_ids)))
    if families is not None:
        query = query.where(Task.family.in_(list(families)))
    return set(session.scalars(query))


def _stale_best(session: Session, tasks: set[str], keep: Callable[[Pair], bool], mode: str) -> list[BestKernel]:
    """For each kept (task, hardware) pair, the best accepted kernel against its latest earlier reference."""
    rows = session.execute(
        select(
            Verification.id,
            Verification.task_id,
            Verification.hardware_fingerprint,
            Verification.reference_sha256,
            Verification.speedup_eager,
            Verification.created_at,
        )
        .join(Task, Task.id == Verification.task_id)
        .where(
            Verification.verdict == "accepted",
            Verification.mode == mode,
            VERIFIED_HERE,
            Verification.reference_sha256 != Task.source_sha256,
            Verification.task_id.in_(list(tasks)),
        )
        .order_by(Verification.id)
    ).all()
    by_pair: dict[Pair, list[Any]] = {}
    for row in rows:
        pair = (row.task_id, row.hardware_fingerprint)
        if keep(pair):
            by_pair.setdefault(pair, []).append(row)
    chosen_ids = []
    for pair_rows in by_pair.values():
        latest_reference = max(pair_rows, key=lambda r: (r.created_at, r.id)).reference_sha256
        same_reference = [r for r in pair_rows if r.reference_sha256 == latest_reference]
        chosen_ids.append(min(same_reference, key=lambda r: rank_key(r.speedup_eager, r.created_at, r.id)).id)
    if not chosen_ids:
        return []
    loaded = session.execute(
        select(Verification, Candidate)
        .join(Candidate, Candidate.id == Verification.candidate_id)
        .where(Verification.id.in_(chosen_ids))
    ).all()
    return [_best(v, c) for v, c in loaded]
