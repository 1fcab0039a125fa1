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
        UniqueConstraint("candidate_id", "reference_sha256", "environment_key"),
        CheckConstraint(_in("verdict", VERDICTS), name="verdict"),
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
