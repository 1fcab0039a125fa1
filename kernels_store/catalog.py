"""Tasks, candidates and verifications: the writes and lookups, as functions on an open Session.

Writes are idempotent under concurrency: each inserts with ``ON CONFLICT DO NOTHING`` on the natural
key (task id; task + source sha256; candidate + reference sha256 + environment) and reads back the row
that won, so parallel writers neither duplicate nor lose rows. ``Store`` wraps these in transactions;
``kernels_store.bundle`` runs many of them in one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from kernels_store.environment import Environment, as_environment
from kernels_store.errors import NotFoundError, TaskSourceChangedError
from kernels_store.models import LANGUAGES, MODES, ORIGINS, VERDICTS, Candidate, Job, Task, TaskSource, Verification
from kernels_store.provenance import VERIFIED, Provenance
from kernels_store.records import (
    CandidateAdded,
    CandidateRecord,
    Page,
    TaskPut,
    TaskRecord,
    VerificationRecord,
    VerificationRecorded,
)

IfChanged = Literal["update", "error"]
T = TypeVar("T")


def sha256_text(text: str) -> str:
    """The content hash used for reference and candidate sources (as ``verifier.spec.sha256_text``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def insert_for(session: Session, model: type[Any]) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing`` on this session's database."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the store supports SQLite and PostgreSQL only
        raise NotImplementedError(f"unsupported database {dialect!r}")
    return insert(model)


def insert_new(session: Session, model: type[Any], unique: list[str], **values: Any) -> bool:
    """INSERT a ``model`` row unless one with the same ``unique`` columns exists (that one is left as it
    is, no error): whether the row was inserted."""
    inserted = session.execute(
        insert_for(session, model).values(**values).on_conflict_do_nothing(index_elements=unique).returning(model.id)
    ).first()
    return inserted is not None


# -- rows to records ----------------------------------------------------------------------------


def task_record(row: Task) -> TaskRecord:
    return TaskRecord.from_row(row, json_dicts=("extra",))


def candidate_record(row: Candidate) -> CandidateRecord:
    return CandidateRecord.from_row(row, json_dicts=("extra",))


def verification_record(row: Verification) -> VerificationRecord:
    return VerificationRecord.from_row(row)


def page_of(session: Session, query: Select[Any], limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of ORM rows from ``query`` (already ordered) and the total count."""
    if limit < 1 or offset < 0:
        raise ValueError("limit must be >= 1 and offset >= 0")
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = list(session.scalars(query.limit(limit).offset(offset)))
    return rows, total


def records_page(session: Session, query: Select[Any], record: Callable[[Any], T], limit: int, offset: int) -> Page[T]:
    """One ``Page`` of ``query``'s rows (already ordered), each made a record by ``record``."""
    rows, total = page_of(session, query, limit, offset)
    return Page(items=[record(r) for r in rows], total=total, limit=limit, offset=offset)


def where_given(query: Select[Any], *filters: tuple[Any, Any]) -> Select[Any]:
    """``query`` restricted to ``column == value`` for each ``(column, value)`` whose value is given
    (not None)."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query


# -- tasks --------------------------------------------------------------------------------------


def put_task(
    session: Session,
    task_id: str,
    source: str,
    *,
    now: datetime,
    family: str | None = None,
    title: str | None = None,
    shapes: Any = None,
    extra: Mapping[str, Any] | None = None,
    if_changed: IfChanged = "update",
    created_at: datetime | None = None,
) -> TaskPut:
    """Create the task, or find it. A different ``source`` replaces the stored one and is reported
    (``source_changed``, ``previous_sha256``; older verifications become stale), or raises
    ``TaskSourceChangedError`` when ``if_changed="error"``. Given metadata (family, title, shapes,
    extra) replaces the stored metadata; None keeps it."""
    if not task_id or not isinstance(task_id, str):
        raise ValueError("task id must be a non-empty string")
    if if_changed not in ("update", "error"):
        raise ValueError(f"if_changed must be 'update' or 'error', not {if_changed!r}")
    digest = sha256_text(source)
    created = insert_new(
        session,
        Task,
        ["id"],
        id=task_id,
        family=family or "",
        title=title or "",
        source=source,
        source_sha256=digest,
        shapes=[] if shapes is None else shapes,
        extra=dict(extra or {}),
        revision=1,
        created_at=created_at or now,
        updated_at=created_at or now,
    )
    row = session.execute(select(Task).where(Task.id == task_id).with_for_update()).scalar_one()
    if created:
        _keep_source(session, task_id, source, digest, 1, created_at or now)
        return TaskPut(task=task_record(row), created=True, source_changed=False, previous_sha256=None)

    previous = row.source_sha256
    changed = previous != digest
    if changed and if_changed == "error":
        raise TaskSourceChangedError(task_id, previous, digest)
    updates: dict[str, Any] = {"family": family, "title": title, "shapes": shapes}
    touched = False
    for attr, value in updates.items():
        if value is not None and getattr(row, attr) != value:
            setattr(row, attr, value)
            touched = True
    if extra is not None and row.extra != dict(extra):
        row.extra = dict(extra)
        touched = True
    if changed:
        _keep_source(session, task_id, row.source, previous, row.revision, row.updated_at)
        row.source, row.source_sha256, row.revision = source, digest, row.revision + 1
        _keep_source(session, task_id, source, digest, row.revision, now)
    if touched or changed:
        row.updated_at = now
        session.flush()
    return TaskPut(
        task=task_record(row),
        created=False,
        source_changed=changed,
        previous_sha256=previous if changed else None,
    )


def _keep_source(session: Session, task_id: str, source: str, digest: str, revision: int, at: datetime) -> None:
    """Record a version of the task's source (once per sha256)."""
    session.execute(
        insert_for(session, TaskSource)
        .values(task_id=task_id, source_sha256=digest, source=source, revision=revision, created_at=at)
        .on_conflict_do_nothing(index_elements=["task_id", "source_sha256"])
    )


def task_source(session: Session, task_id: str, source_sha256: str) -> str | None:
    """The text of a version of the task's source (what a verification's ``reference_sha256`` names)."""
    row = session.execute(
        select(TaskSource.source).where(TaskSource.task_id == task_id, TaskSource.source_sha256 == source_sha256)
    ).first()
    if row is not None:
        return row[0]
    task = session.get(Task, task_id)
    return task.source if task is not None and task.source_sha256 == source_sha256 else None


def task_versions(session: Session, task_id: str) -> list[tuple[int, str]]:
    """``(revision, source sha256)`` of every recorded version of the task's source, oldest first."""
    rows = session.execute(
        select(TaskSource.revision, TaskSource.source_sha256)
        .where(TaskSource.task_id == task_id)
        .order_by(TaskSource.revision, TaskSource.id)
    ).all()
    return [(r, s) for r, s in rows]


def get_task(session: Session, task_id: str) -> TaskRecord | None:
    row = session.get(Task, task_id)
    return None if row is None else task_record(row)


def list_tasks(session: Session, family: str | None = None) -> list[TaskRecord]:
    query = where_given(select(Task).order_by(Task.id), (Task.family, family))
    return [task_record(r) for r in session.scalars(query)]


def require_task(session: Session, task_id: str) -> Task:
    row = session.get(Task, task_id)
    if row is None:
        raise NotFoundError(f"no task {task_id!r} in the store")
    return row


# -- candidates ---------------------------------------------------------------------------------


def add_candidate(
    session: Session,
    task_id: str,
    source: str,
    *,
    now: datetime,
    language: str,
    origin: str,
    origin_detail: str = "",
    parent_id: int | None = None,
    job_id: str | None = None,
    name: str = "",
    extra: Mapping[str, Any] | None = None,
    created_at: datetime | None = None,
) -> CandidateAdded:
    """Add a candidate kernel (language triton|cuda; origin template|llm|user, ``origin_detail`` the
    model or template name). The same source for the same task returns the existing candidate
    (``created=False``). The parent must be a candidate of the same task."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, not {origin!r}")
    require_task(session, task_id)
    if parent_id is not None:
        parent = session.get(Candidate, parent_id)
        if parent is None:
            raise NotFoundError(f"no parent candidate {parent_id} in the store")
        if parent.task_id != task_id:
            raise ValueError(f"parent candidate {parent_id} belongs to task {parent.task_id!r}, not {task_id!r}")
    if job_id is not None and session.get(Job, job_id) is None:
        raise NotFoundError(f"no job {job_id!r} in the store")
    digest = sha256_text(source)
    created = insert_new(
        session,
        Candidate,
        ["task_id", "source_sha256"],
        task_id=task_id,
        source=source,
        source_sha256=digest,
        language=language,
        origin=origin,
        origin_detail=origin_detail,
        parent_id=parent_id,
        job_id=job_id,
        name=name,
        extra=dict(extra or {}),
        created_at=created_at or now,
    )
    row = session.execute(
        select(Candidate).where(Candidate.task_id == task_id, Candidate.source_sha256 == digest)
    ).scalar_one()
    return CandidateAdded(candidate=candidate_record(row), created=created)


def get_candidate(session: Session, candidate_id: int) -> CandidateRecord | None:
    row = session.get(Candidate, candidate_id)
    return None if row is None else candidate_record(row)


def find_candidate(session: Session, task_id: str, source_sha256: str) -> CandidateRecord | None:
    row = session.execute(
        select(Candidate).where(Candidate.task_id == task_id, Candidate.source_sha256 == source_sha256)
    ).scalar_one_or_none()
    return None if row is None else candidate_record(row)


def lineage(session: Session, candidate_id: int) -> list[CandidateRecord]:
    """The candidate and its ancestors (``parent_id`` chain), root first."""
    chain: list[CandidateRecord] = []
    seen: set[int] = set()
    next_id: int | None = candidate_id
    while next_id is not None and next_id not in seen:
        row = session.get(Candidate, next_id)
        if row is None:
            if not chain:
                raise NotFoundError(f"no candidate {candidate_id} in the store")
            break
        seen.add(next_id)
        chain.append(candidate_record(row))
        next_id = row.parent_id
    return chain[::-1]


def list_candidates(
    session: Session,
    task_id: str,
    *,
    limit: int = 50,
    offset: int = 0,
    origin: str | None = None,
    language: str | None = None,
) -> Page[CandidateRecord]:
    """A task's candidates, oldest first, one page at a time."""
    query = where_given(
        select(Candidate).where(Candidate.task_id == task_id),
        (Candidate.origin, origin),
        (Candidate.language, language),
    )
    return records_page(session, query.order_by(Candidate.id), candidate_record, limit, offset)


# -- verifications ------------------------------------------------------------------------------


def without_non_finite(value: Any) -> Any:
    """``value`` with NaN and infinite floats replaced by None: PostgreSQL's JSON type rejects them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: without_non_finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_non_finite(v) for v in value]
    return value


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)[:64]


def _float_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def verification_columns(report: Mapping[str, Any], reference_sha256: str) -> dict[str, Any]:
    """The indexed columns derived from a ``Report.to_dict()``; checks the fields the store relies on.

    NaN and infinite numbers anywhere in the report are stored as null (the same on every database).
    """
    report = without_non_finite(report)
    verdict = report.get("verdict")
    if verdict not in VERDICTS:
        raise ValueError(f"report verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    environment = report.get("environment") or {}
    timing = report.get("timing") or None
    if not isinstance(environment, Mapping):
        raise ValueError("report environment must be an object")
    if timing is not None and not isinstance(timing, Mapping):
        raise ValueError("report timing must be an object or null")
    timing = timing or {}
    mode = report.get("mode") or "forward"
    if mode not in MODES:
        raise ValueError(f"report mode must be one of {', '.join(MODES)}, not {str(mode)[:40]!r}")
    return {
        "reference_sha256": reference_sha256,
        "environment_key": Environment.from_mapping(environment).key,
        "verdict": verdict,
        "mode": mode,
        "speedup_eager": _float_or_none(timing.get("speedup_eager")),
        "speedup_compiled": _float_or_none(timing.get("speedup_compiled")),
        "candidate_ms": _float_or_none(timing.get("candidate_ms")),
        "device": str(report.get("device") or "")[:16],
        "device_name": str(environment.get("device_name") or timing.get("device_name") or "")[:200],
        "hardware_fingerprint": str(environment.get("hardware_fingerprint") or "")[:64],
        "python_version": _text_or_none(environment.get("python")),
        "torch_version": _text_or_none(environment.get("torch")),
        "triton_version": _text_or_none(environment.get("triton")),
        "cuda_version": _text_or_none(environment.get("cuda")),
        "duration_s": float(report.get("duration_s") or 0.0),
        "report": dict(report),
    }


def record_verification(
    session: Session,
    candidate_id: int,
    report: Mapping[str, Any],
    *,
    now: datetime,
    replace: bool = False,
    created_at: datetime | None = None,
    provenance: Provenance | None = None,
) -> VerificationRecorded:
    """Store a report (see ``Store.record_verification``). ``provenance``: this deployment's
    (the default: ``Provenance.of_report``, the verifying host from the report's placement) or a
    bundle's. A verdict verified here replaces an imported one of the same key; an imported one never
    replaces a verdict verified here."""
    provenance = provenance or Provenance.of_report(report)
    candidate = session.get(Candidate, candidate_id)
    if candidate is None:
        raise NotFoundError(f"no candidate {candidate_id} in the store")
    reported_candidate = report.get("candidate_sha256") or ""
    if reported_candidate and reported_candidate != candidate.source_sha256:
        raise ValueError(
            f"report is for candidate source {reported_candidate[:12]}…, "
            f"candidate {candidate_id} has {candidate.source_sha256[:12]}…"
        )
    reference_sha256 = report.get("reference_sha256") or require_task(session, candidate.task_id).source_sha256
    columns = verification_columns(report, reference_sha256)
    key = (
        Verification.candidate_id == candidate_id,
        Verification.reference_sha256 == reference_sha256,
        Verification.environment_key == columns["environment_key"],
        Verification.mode == columns["mode"],
    )
    created = insert_new(
        session,
        Verification,
        ["candidate_id", "reference_sha256", "environment_key", "mode"],
        candidate_id=candidate_id,
        task_id=candidate.task_id,
        created_at=created_at or now,
        **columns,
        **provenance.columns(),
    )
    row = session.execute(select(Verification).where(*key).with_for_update()).scalar_one()
    if created:
        return VerificationRecorded(verification=verification_record(row), created=True)
    if row.provenance != provenance.kind:
        if provenance.kind != VERIFIED:  # a bundle's claim never replaces a verdict verified here
            return VerificationRecorded(verification=verification_record(row), created=False)
        replace = True  # verified here: it replaces the imported claim
    upgrade_not_run = row.verdict == "not_run" and columns["verdict"] != "not_run"
    if replace or upgrade_not_run or _out_of_time(row):
        for attr, value in {**columns, **provenance.columns()}.items():
            setattr(row, attr, value)
        row.created_at = created_at or now
        session.flush()
        return VerificationRecorded(verification=verification_record(row), created=False, replaced=True)
    return VerificationRecorded(verification=verification_record(row), created=False)


def _out_of_time(row: Verification) -> bool:
    """A rejection whose every reason is a process running past its wall-clock limit (the Triton
    interpreter under load, a time limit too short): the host's verdict, not the kernel's, so a later
    verification replaces it, as one replaces ``not_run``. A rejection for anything else stays: a
    candidate is not verified again and again until a run happens to accept it."""
    reasons = (row.report or {}).get("reasons") or []
    return (
        row.verdict == "rejected"
        and bool(reasons)
        and all(str(r).startswith("process:") and " timed out" in str(r) for r in reasons)
    )


def find_verification(
    session: Session,
    candidate_id: int,
    environment: Environment | Mapping[str, Any],
    *,
    reference_sha256: str | None = None,
    provenance: str | None = VERIFIED,
    mode: str = "forward",
) -> VerificationRecord | None:
    """The candidate's verification in this environment (a ``Report.environment`` dict or an
    ``Environment``) against the task's current reference source (or ``reference_sha256``) in ``mode``
    (a forward verdict never answers for a backward one): one verified by this deployment
    (``provenance``; None: whichever is stored)."""
    if reference_sha256 is None:
        candidate = session.get(Candidate, candidate_id)
        if candidate is None:
            return None
        reference_sha256 = require_task(session, candidate.task_id).source_sha256
    row = session.execute(
        select(Verification).where(
            Verification.candidate_id == candidate_id,
            Verification.reference_sha256 == reference_sha256,
            Verification.environment_key == as_environment(environment).key,
            Verification.mode == mode,
            *([] if provenance is None else [Verification.provenance == provenance]),
        )
    ).scalar_one_or_none()
    return None if row is None else verification_record(row)


def list_verifications(
    session: Session,
    *,
    candidate_id: int | None = None,
    task_id: str | None = None,
    hardware_fingerprint: str | None = None,
    verdict: str | None = None,
    mode: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[VerificationRecord]:
    """Verifications (oldest first), filtered, one page at a time."""
    query = where_given(
        select(Verification),
        (Verification.candidate_id, candidate_id),
        (Verification.task_id, task_id),
        (Verification.hardware_fingerprint, hardware_fingerprint),
        (Verification.verdict, verdict),
        (Verification.mode, mode),
    )
    return records_page(session, query.order_by(Verification.id), verification_record, limit, offset)
