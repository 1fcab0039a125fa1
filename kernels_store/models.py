"""The store's tables (SQLAlchemy 2 typed models). Alembic migrations in ``alembic/versions`` must match.

- ``tasks``: reference ops by id, with the reference source and its sha256;
- ``candidates``: kernel sources per task, unique by (task, source sha256), with origin and lineage;
- ``verifications``: one verifier ``Report`` per (candidate, reference sha256, environment), stored
  whole as JSON plus indexed columns for queries;
- ``jobs``: generation/verification jobs with status, progress and a worker lease.

The best kernel per task and hardware is not stored: it is a query over ``verifications``
(see ``kernels_store.leaderboard``). Times are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

LANGUAGES = ("triton", "cuda")
ORIGINS = ("template", "llm", "user")
"""template: the template compiler; llm: a model (``origin_detail`` names it); user: an upload."""
VERDICTS = ("accepted", "rejected", "not_run")
"""The same values as ``verifier.report.VERDICTS`` (not imported: it would import torch)."""
MODES = ("forward", "backward", "both")
"""What a verification verified (``verifier.VerifyOptions.mode``): the forward, a training step (the
op's forward and backward), or both one after the other. Rankings and caches keep them apart."""
PROVENANCES = ("verified", "imported")
"""Where a verdict came from (``kernels_store.provenance``): this deployment, or a bundle."""
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED_JOB_STATUSES = ("succeeded", "failed", "cancelled")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    family: Mapped[str] = mapped_column(String(100), index=True, default="")
    title: Mapped[str] = mapped_column(String(300), default="")
    source: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    shapes: Mapped[Any] = mapped_column(JSON, default=list)
    """The task's shape configurations as given (e.g. ``[shape.to_dict() ...]``)."""
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Anything else worth keeping with the task (tolerances, allowed ops, origin...)."""
    revision: Mapped[int] = mapped_column(Integer, default=1)
    """1, plus one for every change of the reference source."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        Index(None, "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="generate")
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    budget: Mapped[int | None] = mapped_column(Integer)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    owner_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    """sha256 of the bearer token that created the job; the token itself is never stored."""
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """How many times a worker claimed the job (more than 1: a worker died holding it)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Candidate(Base):
    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("task_id", "source_sha256"),
        CheckConstraint(_in("language", LANGUAGES), name="language"),
        Index(None, "task_id", "created_at"),
        Index(None, "origin", "origin_detail"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(Text)
    source_sha256: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))
    origin_detail: Mapped[str] = mapped_column(String(200), default="")
    """The LLM model name, the template's name, or who uploaded it."""
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="SET NULL"), index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Verification(Base):
    __tablename__ = "verifications"
    __table_args__ = (
        UniqueConstraint(
            "candidate_id", "reference_sha256", "environment_key", "mode", name="uq_verifications_key_mode"
        ),
        CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
        CheckConstraint(_in("provenance", PROVENANCES), name="provenance"),
        CheckConstraint(_in("mode", MODES), name="mode"),
        Index(None, "task_id", "hardware_fingerprint", "verdict"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    reference_sha256: Mapped[str] = mapped_column(String(64))
    """The reference source verified against; results for an older source of the task are stale."""
    environment_key: Mapped[str] = mapped_column(String(64))
    """Hash of the hardware fingerprint and torch/triton/CUDA versions (``kernels_store.environment``)."""
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    mode: Mapped[str] = mapped_column(String(16), index=True, default="forward")
    """``forward``, ``backward`` or ``both`` (``MODES``): part of the key, so one candidate's forward and
    backward verdicts in one environment are two rows."""
    speedup_eager: Mapped[float | None] = mapped_column(Float, index=True)
    speedup_compiled: Mapped[float | None] = mapped_column(Float, index=True)
    candidate_ms: Mapped[float | None] = mapped_column(Float)
    device: Mapped[str] = mapped_column(String(16), default="")
    device_name: Mapped[str] = mapped_column(String(200), index=True, default="")
    hardware_fingerprint: Mapped[str] = mapped_column(String(64), index=True, default="")
    python_version: Mapped[str | None] = mapped_column(String(64))
    torch_version: Mapped[str | None] = mapped_column(String(64), index=True)
    triton_version: Mapped[str | None] = mapped_column(String(64), index=True)
    cuda_version: Mapped[str | None] = mapped_column(String(64), index=True)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    """``Report.to_dict()``, whole."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True, default=utcnow)
    provenance: Mapped[str] = mapped_column(String(16), default="verified")
    """``verified`` by this deployment, or ``imported`` from a bundle (``kernels_store.provenance``)."""
    verified_host: Mapped[str] = mapped_column(String(200), default="")
    verifier_version: Mapped[str] = mapped_column(String(64), default="")
    imported_from: Mapped[str] = mapped_column(String(300), default="")
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TaskSource(Base):
    """Every reference source a task has had: a changed source is a new version, and verifications
    (``verifications.reference_sha256``) keep pointing at the text they were verified against."""

    __tablename__ = "task_sources"
    __table_args__ = (UniqueConstraint("task_id", "source_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    source_sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


RUN_STATUSES = ("running", "completed", "interrupted")
RUN_TASK_STATUSES = ("pending", "running", "done")
RUN_VERDICTS = ("accepted", "rejected", "no_kernel", "reference_failed", "no_small_shape", "skipped")
"""A bench run's per-task outcome (``kiln bench``): a kernel accepted, candidates but none accepted,
no candidate at all, the reference did not run, no valid small shape exists, or (a backward run)
nothing of the reference is differentiable."""


class BenchRun(Base):
    """One ``kiln bench`` run: a generator over a suite of tasks on one machine."""

    __tablename__ = "bench_runs"
    __table_args__ = (CheckConstraint(_in("status", RUN_STATUSES), name="status"), Index(None, "created_at"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    suite: Mapped[str] = mapped_column(String(300), default="")
    tier: Mapped[str] = mapped_column(String(16))
    proposer: Mapped[str] = mapped_column(String(16))
    generator: Mapped[str] = mapped_column(String(200), default="")
    """``template`` or ``llm:<model>``: the leaderboard's generator label."""
    executor: Mapped[str] = mapped_column(String(32), default="local")
    budget: Mapped[int] = mapped_column(Integer, default=1)
    device: Mapped[str] = mapped_column(String(16), default="")
    device_name: Mapped[str] = mapped_column(String(200), default="")
    hardware_fingerprint: Mapped[str] = mapped_column(String(64), index=True, default="")
    status: Mapped[str] = mapped_column(String(16), default="running")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """fast_p per p, geomean speedup, counts per verdict (filled as tasks finish)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BenchRunTask(Base):
    """One task of a bench run, updated as it runs; ``verified`` maps candidate sha256 to the
    verification recorded for it in this run (what ``--resume`` does not verify again)."""

    __tablename__ = "bench_run_tasks"
    __table_args__ = (
        UniqueConstraint("run_id", "task_id"),
        CheckConstraint(_in("status", RUN_TASK_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("bench_runs.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    source_sha256: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    verdict: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    reference_ok: Mapped[bool | None] = mapped_column(Boolean)
    shapes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The shapes this task is verified on in the run (name -> constant overrides)."""
    changed_constants: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    speedup_eager: Mapped[float | None] = mapped_column(Float)
    speedup_compiled: Mapped[float | None] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    candidates: Mapped[int] = mapped_column(Integer, default=0)
    best_candidate_id: Mapped[int | None] = mapped_column(ForeignKey("candidates.id", ondelete="SET NULL"))
    verified: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
