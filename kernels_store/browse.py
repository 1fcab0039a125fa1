"""Read queries for the web pages: each answers one page section in one or two SQL statements.

Like ``kernels_store.leaderboard``, only *current* verifications count (verified by this deployment,
against the task's present reference source); a task's imported verdicts are listed on their own
(``ranked_verifications(..., "imported")``). Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from kernels_store.catalog import candidate_record, verification_record
from kernels_store.models import Candidate, Task, Verification
from kernels_store.ranking import COUNTS, IS_CURRENT, store_order
from kernels_store.records import CandidateRecord, Page, Record, VerificationRecord

Verdicts = Literal["accepted", "not_accepted", "imported"]
"""``accepted``; ``not_accepted``: rejected and not run (e.g. a CUDA kernel compiled without a GPU) (both
verified here); ``imported``: any verdict imported from a bundle, not verified here."""


@dataclass(frozen=True)
class GeneratorTaskResult(Record):
    """What one generator (origin, origin_detail) achieved on one task and hardware: its best accepted result."""

    task_id: str
    hardware_fingerprint: str
    device_name: str
    origin: str
    origin_detail: str
    best_speedup_eager: float | None
    """None when none of its accepted kernels there has a GPU timing."""


@dataclass(frozen=True)
class HardwareSeen(Record):
    """A hardware fingerprint that has accepted verifications, with its device name."""

    hardware_fingerprint: str
    device_name: str
    device: str
    """``cuda`` or ``cpu`` (the report's device kind, first word)."""
    timed: int
    """Accepted verifications with a GPU timing."""


@dataclass(frozen=True)
class VerifiedCandidate(Record):
    verification: VerificationRecord
    candidate: CandidateRecord
    source_length: int | None = None
    """The full source's length in characters when ``candidate.source`` holds only its beginning."""


@dataclass(frozen=True)
class SpeedupPoint(Record):
    """One GPU-timed accepted verification, for plotting (no source, no report)."""

    verification_id: int
    candidate_id: int
    created_at: datetime
    speedup_eager: float
    hardware_fingerprint: str
    device_name: str
    origin: str
    origin_detail: str


@dataclass(frozen=True)
class TaskHeader(Record):
    """A stored task without its source."""

    id: str
    family: str
    title: str


def generator_results(
    session: Session,
    task_ids: list[str] | None = None,
    *,
    hardware_fingerprint: str | None = None,
    mode: str = "forward",
) -> list[GeneratorTaskResult]:
    """Best accepted speedup per (task, hardware, origin, origin_detail) among ``mode``'s verdicts: what
    fast_p is computed from (a backward speedup never counts in a forward fast_p)."""
    query = (
        select(
            Verification.task_id,
            Verification.hardware_fingerprint,
            func.max(Verification.device_name),
            Candidate.origin,
            Candidate.origin_detail,
            func.max(Verification.speedup_eager),
        )
        .join(Task, Task.id == Verification.task_id)
        .join(Candidate, Candidate.id == Verification.candidate_id)
        .where(Verification.verdict == "accepted", COUNTS, Verification.mode == mode)
        .group_by(Verification.task_id, Verification.hardware_fingerprint, Candidate.origin, Candidate.origin_detail)
        .order_by(Verification.task_id, Verification.hardware_fingerprint, Candidate.origin, Candidate.origin_detail)
    )
    if task_ids is not None:
        query = query.where(Verification.task_id.in_(task_ids))
    if hardware_fingerprint is not None:
        query = query.where(Verification.hardware_fingerprint == hardware_fingerprint)
    return [
        GeneratorTaskResult(
            task_id=t, hardware_fingerprint=h, device_name=d or "", origin=o, origin_detail=od, best_speedup_eager=s
        )
        for t, h, d, o, od, s in session.execute(query)
    ]


def hardware_seen(session: Session, *, task_id: str | None = None) -> list[HardwareSeen]:
    """Every hardware fingerprint with a current accepted verification (of ``task_id``), by device name."""
    timed = func.count(Verification.speedup_eager)
    query = (
        select(
            Verification.hardware_fingerprint, func.max(Verification.device_name), func.max(Verification.device), timed
        )
        .join(Task, Task.id == Verification.task_id)
        .where(Verification.verdict == "accepted", COUNTS)
        .group_by(Verification.hardware_fingerprint)
    )
    if task_id is not None:
        query = query.where(Verification.task_id == task_id)
    rows = [
        HardwareSeen(hardware_fingerprint=h, device_name=d or "", device=(k or "").split(" ")[0], timed=n)
        for h, d, k, n in session.execute(query)
    ]
    return sorted(rows, key=lambda r: (r.timed == 0, r.device_name, r.hardware_fingerprint))


def ranked_verifications(
    session: Session,
    task_id: str,
    verdicts: Verdicts,
    *,
    hardware_fingerprint: str | None = None,
    limit: int = 20,
    offset: int = 0,
    source_chars: int | None = None,
    mode: str = "forward",
) -> Page[VerifiedCandidate]:
    """A task's current verifications in ``mode`` with their candidates, one page at a time (each mode
    is ranked apart).

    Accepted ones rank like the leaderboard: GPU-timed first by ``speedup_eager`` (highest first), then
    untimed ones, earliest first. The others (rejected, not run) come newest first.

    ``source_chars``: load only the first that many characters of each candidate's source (and its
    full length, in ``source_length``), so a page costs the same however long the stored sources are.
    """
    columns: list[Any] = [Verification, Candidate]
    if source_chars is not None:
        if source_chars < 1:
            raise ValueError("source_chars must be >= 1")
        columns += [func.substr(Candidate.source, 1, source_chars), func.length(Candidate.source)]
    query = (
        select(*columns)
        .join(Task, Task.id == Verification.task_id)
        .join(Candidate, Candidate.id == Verification.candidate_id)
        .where(Verification.task_id == task_id, IS_CURRENT, Verification.mode == mode)
    )
    if verdicts == "imported":
        query = query.where(Verification.provenance == "imported").order_by(
            Verification.verdict != "accepted", *store_order()
        )
    elif verdicts == "accepted":
        query = query.where(Verification.verdict == "accepted", COUNTS).order_by(*store_order())
    else:
        query = query.where(Verification.verdict != "accepted", COUNTS).order_by(
            Verification.created_at.desc(), Verification.id.desc()
        )
    if hardware_fingerprint is not None:
        query = query.where(Verification.hardware_fingerprint == hardware_fingerprint)
    if limit < 1 or offset < 0:
        raise ValueError("limit must be >= 1 and offset >= 0")
    counted = query.with_only_columns(Verification.id).order_by(None).subquery()
    total = session.scalar(select(func.count()).select_from(counted)) or 0
    if source_chars is None:
        rows = session.execute(query.limit(limit).offset(offset)).all()
        items = [VerifiedCandidate(verification_record(v), candidate_record(c)) for v, c in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)
    items = []
    for v, c, head, length in session.execute(query.options(defer(Candidate.source)).limit(limit).offset(offset)):
        set_committed_value(c, "source", head or "")  # the beginning only; never loads the whole text
        items.append(VerifiedCandidate(verification_record(v), candidate_record(c), source_length=length or 0))
    return Page(items=items, total=total, limit=limit, offset=offset)


def speedup_points(
    session: Session,
    task_id: str,
    *,
    hardware_fingerprint: str | None = None,
    limit: int = 2000,
    mode: str = "forward",
) -> Page[SpeedupPoint]:
    """The latest ``limit`` GPU-timed accepted verifications of a task in ``mode``, oldest first (``total``:
    all of them)."""
    query = (
        select(
            Verification.id,
            Verification.candidate_id,
            Verification.created_at,
            Verification.speedup_eager,
            Verification.hardware_fingerprint,
            Verification.device_name,
            Candidate.origin,
            Candidate.origin_detail,
        )
        .join(Task, Task.id == Verification.task_id)
        .join(Candidate, Candidate.id == Verification.candidate_id)
        .where(
            and_(Verification.task_id == task_id, Verification.verdict == "accepted", COUNTS),
            Verification.speedup_eager.is_not(None),
            Verification.mode == mode,
        )
    )
    if hardware_fingerprint is not None:
        query = query.where(Verification.hardware_fingerprint == hardware_fingerprint)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Verification.created_at.desc(), Verification.id.desc()).limit(limit)).all()
    points = [SpeedupPoint(*row) for row in reversed(rows)]
    return Page(items=points, total=total, limit=limit, offset=max(total - len(points), 0))


def task_headers(session: Session) -> list[TaskHeader]:
    """Every stored task's id, family and title (not its source), by id."""
    rows = session.execute(select(Task.id, Task.family, Task.title).order_by(Task.id))
    return [TaskHeader(id=i, family=f, title=t) for i, f, t in rows]


__all__ = [
    "GeneratorTaskResult",
    "HardwareSeen",
    "SpeedupPoint",
    "TaskHeader",
    "VerifiedCandidate",
    "generator_results",
    "hardware_seen",
    "ranked_verifications",
    "speedup_points",
    "task_headers",
]
