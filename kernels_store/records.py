"""Plain, immutable values the store returns. They hold no database session and are safe to share.

``to_dict()`` gives JSON-friendly dicts (datetimes as ISO 8601 strings) for the HTTP API.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from verifier.report import Report

T = TypeVar("T")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


R = TypeVar("R", bound="Record")
Built = TypeVar("Built")


def built_from(target: type[Built], source: Any, /, **given: Any) -> Built:
    """``target`` (a dataclass or a pydantic model) with each field that ``source`` has an attribute of
    the same name copied from it, and ``given`` for the others (or instead): how store records are made
    from database rows, and the service's views from store records."""
    names = getattr(target, "model_fields", None) or [f.name for f in fields(target)]  # type: ignore[arg-type]
    copied = {name: getattr(source, name) for name in names if name not in given and hasattr(source, name)}
    return target(**copied, **given)


class Record:
    _private: tuple[str, ...] = ()

    @classmethod
    def from_row(cls: type[R], row: Any, *, json_dicts: tuple[str, ...] = ()) -> R:
        """The record of an ORM row (``built_from``); the ``json_dicts`` fields copied as dicts (None as
        ``{}``), so no record shares the row's JSON."""
        return built_from(cls, row, **{name: dict(getattr(row, name) or {}) for name in json_dicts})

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: _jsonable(getattr(self, f.name))
            for f in fields(self)  # type: ignore[arg-type]
            if f.name not in self._private
        }


def hash_token(token: str) -> str:
    """sha256 hex digest of an owner token: what the store keeps instead of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TaskRecord(Record):
    id: str
    family: str
    title: str
    source: str
    source_sha256: str
    shapes: Any
    extra: dict[str, Any]
    revision: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TaskPut(Record):
    """What ``put_task`` did: created the task, found it unchanged, or replaced a changed source."""

    task: TaskRecord
    created: bool
    source_changed: bool
    previous_sha256: str | None
    """The replaced source's sha256 when ``source_changed``; its verifications are now stale."""


@dataclass(frozen=True)
class CandidateRecord(Record):
    id: int
    task_id: str
    source: str
    source_sha256: str
    language: str
    origin: str
    origin_detail: str
    parent_id: int | None
    job_id: str | None
    name: str
    extra: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class CandidateAdded(Record):
    candidate: CandidateRecord
    created: bool
    """False: a candidate with the same source already existed for the task and is returned instead."""


@dataclass(frozen=True)
class VerificationRecord(Record):
    id: int
    candidate_id: int
    task_id: str
    reference_sha256: str
    environment_key: str
    verdict: str
    speedup_eager: float | None
    speedup_compiled: float | None
    candidate_ms: float | None
    device: str
    device_name: str
    hardware_fingerprint: str
    python_version: str | None
    torch_version: str | None
    triton_version: str | None
    cuda_version: str | None
    duration_s: float
    report: dict[str, Any]
    """``Report.to_dict()`` as recorded."""
    created_at: datetime
    provenance: str = "verified"
    """``verified`` by this deployment, or ``imported`` (``kernels_store.provenance``)."""
    verified_host: str = ""
    verifier_version: str = ""
    imported_from: str = ""
    imported_at: datetime | None = None
    mode: str = "forward"
    """``forward``, ``backward`` (a training step) or ``both``: what was verified."""

    @property
    def verified_here(self) -> bool:
        """True when this deployment produced the verdict (only those count)."""
        return self.provenance == "verified"

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"

    @property
    def measured(self) -> bool:
        """True when a GPU timing exists (``speedup_eager`` is set)."""
        return self.speedup_eager is not None

    def to_report(self) -> Report:
        """The verifier's ``Report`` (imports ``verifier``, hence torch)."""
        from verifier.report import Report

        return Report.from_dict(self.report)


@dataclass(frozen=True)
class VerificationRecorded(Record):
    verification: VerificationRecord
    created: bool
    """False: this candidate already had a verification in this environment (returned, maybe replaced)."""
    replaced: bool = False
    """True: the existing verification's report was overwritten with the new one."""


@dataclass(frozen=True)
class BestKernel(Record):
    """The best accepted kernel of one task on one hardware fingerprint.

    Timed results rank by ``speedup_eager`` (highest first). Where no accepted verification of the
    task on this hardware has a timing (CPU-only verification), the earliest accepted one is the best
    and ``measured`` is False.
    """

    task_id: str
    hardware_fingerprint: str
    device_name: str
    measured: bool
    speedup_eager: float | None
    speedup_compiled: float | None
    candidate: CandidateRecord
    verification: VerificationRecord

    @property
    def mode(self) -> str:
        """What the kernel was ranked for: ``forward``, ``backward`` or ``both`` (each ranked apart)."""
        return self.verification.mode


@dataclass(frozen=True)
class OriginCount(Record):
    origin: str
    origin_detail: str
    candidates: int
    accepted: int
    """Candidates with at least one accepted verification (against the task's current source)."""


@dataclass(frozen=True)
class Page(Record, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True)
class JobRecord(Record):
    _private = ("owner_token_hash",)

    id: str
    kind: str
    task_id: str | None
    status: str
    params: dict[str, Any]
    budget: int | None
    progress: dict[str, Any]
    result: Any
    error: str | None
    owner_token_hash: str | None = field(repr=False)
    cancel_requested: bool
    worker_id: str | None
    lease_expires_at: datetime | None
    heartbeat_at: datetime | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    def owned_by(self, token: str | None) -> bool:
        """True when ``token`` is the one the job was created with (constant-time comparison)."""
        if token is None or self.owner_token_hash is None:
            return False
        return hmac.compare_digest(hash_token(token), self.owner_token_hash)


@dataclass(frozen=True)
class StoreStats(Record):
    tasks: int
    candidates: int
    verifications: int
    accepted_verifications: int
    jobs: int
    jobs_by_status: dict[str, int]


@dataclass(frozen=True)
class RunRecord(Record):
    """A ``kiln bench`` run: suite, tier, generator, machine, status and summary (fast_p, geomean)."""

    id: str
    suite: str
    tier: str
    proposer: str
    generator: str
    executor: str
    budget: int
    device: str
    device_name: str
    hardware_fingerprint: str
    status: str
    options: dict[str, Any]
    summary: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class RunTaskRecord(Record):
    """One task of a bench run and its outcome (``verdict`` None while pending or running)."""

    run_id: str
    task_id: str
    position: int
    source_sha256: str
    status: str
    verdict: str | None
    reason: str
    reference_ok: bool | None
    shapes: dict[str, Any]
    changed_constants: dict[str, Any]
    speedup_eager: float | None
    speedup_compiled: float | None
    seconds: float
    candidates: int
    best_candidate_id: int | None
    verified: dict[str, Any]
    updated_at: datetime
