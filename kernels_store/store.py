"""``Store``: the one object the service, the generators and ``kiln regress`` use to reach the database.

Every method is one transaction (writes on SQLite begin with ``BEGIN IMMEDIATE``) and returns plain
records from ``kernels_store.records``. A ``Store`` is safe to share between threads; open one per
process with ``open_store`` and keep it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kernels_store import browse, catalog, jobs, latest_best, leaderboard, runs
from kernels_store.catalog import IfChanged
from kernels_store.db import for_writing, is_sqlite, make_engine, redacted
from kernels_store.environment import Environment
from kernels_store.jobs import DEFAULT_LEASE_S, DEFAULT_MAX_ATTEMPTS
from kernels_store.migrate import MigrationResult, ensure_current
from kernels_store.models import Verification, utcnow
from kernels_store.records import (
    BestKernel,
    CandidateAdded,
    CandidateRecord,
    JobRecord,
    OriginCount,
    Page,
    RunRecord,
    RunTaskRecord,
    StoreStats,
    TaskPut,
    TaskRecord,
    VerificationRecord,
    VerificationRecorded,
)

if TYPE_CHECKING:
    from verifier.report import Report

Clock = Callable[[], datetime]


def report_dict(report: Report | Mapping[str, Any]) -> dict[str, Any]:
    """A ``Report`` (anything with ``to_dict()``) or an already-serialized report as a dict."""
    to_dict = getattr(report, "to_dict", None)
    data = to_dict() if callable(to_dict) else report
    if not isinstance(data, Mapping):
        raise TypeError(f"expected a verifier Report or its dict, not {type(report).__name__}")
    return dict(data)


class Store:
    def __init__(self, engine: Engine, *, clock: Clock = utcnow) -> None:
        self.engine = engine
        self._write_engine = for_writing(engine)
        self.clock = clock
        self.migration: MigrationResult | None = None
        """What ``open_store`` did to the schema (None: it was already current)."""

    def __repr__(self) -> str:
        return f"Store({redacted(self.engine.url)})"

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return redacted(self.engine.url)

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.engine)

    def close(self) -> None:
        """Close pooled connections (the store can still be used; it reconnects)."""
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction: committed on success, rolled back on any exception."""
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (one consistent snapshot on SQLite; rolled back at the end)."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    # -- tasks ----------------------------------------------------------------------------------

    def put_task(
        self,
        task_id: str,
        source: str,
        *,
        family: str | None = None,
        title: str | None = None,
        shapes: Any = None,
        extra: Mapping[str, Any] | None = None,
        if_changed: IfChanged = "update",
    ) -> TaskPut:
        """Create the task, or find it. A different ``source`` replaces the stored one and is reported
        (``source_changed``, ``previous_sha256``; older verifications become stale), or raises
        ``TaskSourceChangedError`` when ``if_changed="error"``. Given metadata (family, title, shapes,
        extra) replaces the stored metadata; None keeps it."""
        with self.write() as s:
            return catalog.put_task(
                s,
                task_id,
                source,
                now=self.clock(),
                family=family,
                title=title,
                shapes=shapes,
                extra=extra,
                if_changed=if_changed,
            )

    def get_task(self, task_id: str) -> TaskRecord | None:
        with self.read() as s:
            return catalog.get_task(s, task_id)

    def list_tasks(self, family: str | None = None) -> list[TaskRecord]:
        with self.read() as s:
            return catalog.list_tasks(s, family)

    def task_source(self, task_id: str, source_sha256: str) -> str | None:
        """The text of one version of a task's source (e.g. a verification's ``reference_sha256``)."""
        with self.read() as s:
            return catalog.task_source(s, task_id, source_sha256)

    def task_versions(self, task_id: str) -> list[tuple[int, str]]:
        """``(revision, source sha256)`` of every recorded version of the task's source, oldest first."""
        with self.read() as s:
            return catalog.task_versions(s, task_id)

    # -- candidates -----------------------------------------------------------------------------

    def add_candidate(
        self,
        task_id: str,
        source: str,
        *,
        language: str,
        origin: str,
        origin_detail: str = "",
        parent_id: int | None = None,
        job_id: str | None = None,
        name: str = "",
        extra: Mapping[str, Any] | None = None,
    ) -> CandidateAdded:
        """Add a candidate kernel (language triton|cuda; origin template|llm|user, ``origin_detail`` the
        model or template name). The same source for the same task returns the existing candidate
        (``created=False``). The parent must be a candidate of the same task."""
        with self.write() as s:
            return catalog.add_candidate(
                s,
                task_id,
                source,
                now=self.clock(),
                language=language,
                origin=origin,
                origin_detail=origin_detail,
                parent_id=parent_id,
                job_id=job_id,
                name=name,
                extra=extra,
            )

    def get_candidate(self, candidate_id: int) -> CandidateRecord | None:
        with self.read() as s:
            return catalog.get_candidate(s, candidate_id)

    def find_candidate(self, task_id: str, source_sha256: str) -> CandidateRecord | None:
        with self.read() as s:
            return catalog.find_candidate(s, task_id, source_sha256)

    def lineage(self, candidate_id: int) -> list[CandidateRecord]:
        """The candidate and its ancestors (``parent_id`` chain), root first."""
        with self.read() as s:
            return catalog.lineage(s, candidate_id)

    def list_candidates(
        self,
        task_id: str,
        *,
        limit: int = 50,
        offset: int = 0,
        origin: str | None = None,
        language: str | None = None,
    ) -> Page[CandidateRecord]:
        """A task's candidates, oldest first, one page at a time."""
        with self.read() as s:
            return catalog.list_candidates(s, task_id, limit=limit, offset=offset, origin=origin, language=language)

    # -- verifications --------------------------------------------------------------------------

    def record_verification(
        self, candidate_id: int, report: Report | Mapping[str, Any], *, replace: bool = False
    ) -> VerificationRecorded:
        """Store a verifier report for the candidate. One verification is kept per (candidate,
        reference source, environment): ``created`` says whether this one is new. An existing one is
        returned unchanged, unless ``replace`` is true or it was ``not_run`` and this one is not (then it
        is overwritten and ``replaced`` is true). The report's ``candidate_sha256`` must match."""
        data = report_dict(report)
        with self.write() as s:
            return catalog.record_verification(s, candidate_id, data, now=self.clock(), replace=replace)

    def find_verification(
        self,
        candidate_id: int,
        environment: Environment | Mapping[str, Any],
        *,
        reference_sha256: str | None = None,
    ) -> VerificationRecord | None:
        """The candidate's verification in this environment (a ``Report.environment`` dict or an
        ``Environment``) against the task's current reference source (or ``reference_sha256``)."""
        with self.read() as s:
            return catalog.find_verification(s, candidate_id, environment, reference_sha256=reference_sha256)

    def is_verified(
        self,
        candidate_id: int,
        environment: Environment | Mapping[str, Any],
        *,
        reference_sha256: str | None = None,
    ) -> bool:
        """True when a verdict other than ``not_run`` exists for the candidate in this environment."""
        found = self.find_verification(candidate_id, environment, reference_sha256=reference_sha256)
        return found is not None and found.verdict != "not_run"

    def list_verifications(
        self,
        *,
        candidate_id: int | None = None,
        task_id: str | None = None,
        hardware_fingerprint: str | None = None,
        verdict: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[VerificationRecord]:
        """Verifications (oldest first), filtered, one page at a time."""
        with self.read() as s:
            return catalog.list_verifications(
                s,
                candidate_id=candidate_id,
                task_id=task_id,
                hardware_fingerprint=hardware_fingerprint,
                verdict=verdict,
                limit=limit,
                offset=offset,
            )

    # -- results --------------------------------------------------------------------------------

    def best_kernel(self, task_id: str, hardware_fingerprint: str) -> BestKernel | None:
        """The task's best accepted kernel on this hardware (see ``BestKernel``), or None."""
        found = self.best_kernels(task_id=task_id, hardware_fingerprint=hardware_fingerprint)
        return found[0] if found else None

    def best_kernels(self, *, task_id: str | None = None, hardware_fingerprint: str | None = None) -> list[BestKernel]:
        """The leaderboard: one best kernel per (task, hardware fingerprint), by task id."""
        with self.read() as s:
            return leaderboard.best_kernels(s, task_id=task_id, hardware_fingerprint=hardware_fingerprint)

    def latest_best_kernels(
        self,
        *,
        task_ids: Collection[str] | None = None,
        families: Collection[str] | None = None,
        hardware_fingerprints: Collection[str] | None = None,
    ) -> list[BestKernel]:
        """``best_kernels()`` plus, for each (task, hardware) with no kernel accepted against the task's
        current source, the best kernel accepted against its most recent earlier source (its
        ``verification.reference_sha256`` then differs from the task's): what ``kiln regress`` re-checks.
        Filters keep kernels whose task id, task family or fingerprint is in them (None: all)."""
        with self.read() as s:
            return latest_best.latest_best_kernels(
                s, task_ids=task_ids, families=families, hardware_fingerprints=hardware_fingerprints
            )

    def origin_counts(self, *, task_id: str | None = None) -> list[OriginCount]:
        """Candidates and accepted candidates per (origin, origin_detail), e.g. per LLM model."""
        with self.read() as s:
            return leaderboard.origin_counts(s, task_id=task_id)

    def stats(self) -> StoreStats:
        with self.read() as s:
            return leaderboard.stats(s)

    # -- jobs -----------------------------------------------------------------------------------

    def create_job(
        self,
        *,
        kind: str = "generate",
        task_id: str | None = None,
        params: Mapping[str, Any] | None = None,
        budget: int | None = None,
        owner_token: str | None = None,
    ) -> JobRecord:
        """Queue a job. Only the sha256 of ``owner_token`` is stored (``JobRecord.owned_by(token)``)."""
        with self.write() as s:
            return jobs.create_job(
                s,
                now=self.clock(),
                kind=kind,
                task_id=task_id,
                params=params,
                budget=budget,
                owner_token=owner_token,
            )

    def get_job(self, job_id: str) -> JobRecord | None:
        with self.read() as s:
            return jobs.get_job(s, job_id)

    def claim_next_job(
        self,
        worker_id: str,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        kinds: Iterable[str] | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> JobRecord | None:
        """Atomically take the oldest queued job, or a running one whose lease expired (its worker
        died), for ``worker_id``, leased for ``lease_s`` seconds. None when nothing is claimable."""
        with self.write() as s:
            return jobs.claim_next_job(
                s, worker_id, now=self.clock(), lease_s=lease_s, kinds=kinds, max_attempts=max_attempts
            )

    def heartbeat(self, job_id: str, worker_id: str, *, lease_s: float = DEFAULT_LEASE_S) -> JobRecord:
        """Extend the worker's lease; check ``cancel_requested`` on the result. ``LeaseLostError`` when
        the worker no longer holds the job."""
        with self.write() as s:
            return jobs.heartbeat(s, job_id, worker_id, now=self.clock(), lease_s=lease_s)

    def update_progress(
        self, job_id: str, worker_id: str, progress: Mapping[str, Any], *, lease_s: float | None = DEFAULT_LEASE_S
    ) -> JobRecord:
        """Replace the job's progress dict (and extend the lease unless ``lease_s`` is None)."""
        with self.write() as s:
            return jobs.update_progress(s, job_id, worker_id, progress, now=self.clock(), lease_s=lease_s)

    def finish_job(
        self, job_id: str, worker_id: str, status: str, *, error: str | None = None, result: Any = None
    ) -> JobRecord:
        """End the worker's job as succeeded, failed or cancelled (``LeaseLostError`` if not held)."""
        with self.write() as s:
            return jobs.finish_job(s, job_id, worker_id, status, now=self.clock(), error=error, result=result)

    def release_job(self, job_id: str, worker_id: str) -> JobRecord:
        """Put the worker's running job back in the queue (clean shutdown; not counted as an attempt)."""
        with self.write() as s:
            return jobs.release_job(s, job_id, worker_id, now=self.clock())

    def request_cancel(self, job_id: str) -> JobRecord:
        """Cancel a queued job now, or ask a running job's worker to stop; finished jobs are left as is."""
        with self.write() as s:
            return jobs.request_cancel(s, job_id, now=self.clock())

    def list_jobs(
        self,
        *,
        status: str | Iterable[str] | None = None,
        owner_token: str | None = None,
        task_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[JobRecord]:
        """Jobs, newest first; ``owner_token`` keeps the jobs created with that token."""
        with self.read() as s:
            return jobs.list_jobs(
                s, status=status, owner_token=owner_token, task_id=task_id, limit=limit, offset=offset
            )

    # -- bench runs (kiln bench; see kernels_store.runs) -----------------------------------------

    def create_run(self, task_ids: list[str], **fields: Any) -> RunRecord:
        """A new bench run over stored tasks, each ``pending`` (fields: suite, tier, proposer, generator,
        executor, budget, device, device_name, hardware_fingerprint, options)."""
        with self.write() as s:
            return runs.create_run(s, now=self.clock(), task_ids=task_ids, **fields)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self.read() as s:
            return runs.get_run(s, run_id)

    def run_tasks(self, run_id: str) -> list[RunTaskRecord]:
        """The run's tasks in run order, with their outcome so far."""
        with self.read() as s:
            return runs.run_tasks(s, run_id)

    def list_runs(self, *, suite: str | None = None, limit: int = 50, offset: int = 0) -> Page[RunRecord]:
        """Bench runs, newest first."""
        with self.read() as s:
            return runs.list_runs(s, suite=suite, limit=limit, offset=offset)

    def run_task_counts(self, run_ids: list[str]) -> dict[str, dict[str, int]]:
        """Per run: tasks, done, and tasks per verdict."""
        with self.read() as s:
            return runs.run_task_counts(s, run_ids)

    def update_run_task(self, run_id: str, task_id: str, **fields: Any) -> RunTaskRecord:
        with self.write() as s:
            return runs.update_run_task(s, run_id, task_id, now=self.clock(), **fields)

    def note_run_verified(self, run_id: str, task_id: str, sha256: str, verification_id: int) -> None:
        with self.write() as s:
            runs.note_verified(s, run_id, task_id, sha256, verification_id, now=self.clock())

    def set_run_status(self, run_id: str, status: str, *, summary: Mapping[str, Any] | None = None) -> RunRecord:
        """running, completed or interrupted (and the run's summary)."""
        with self.write() as s:
            return runs.set_run_status(s, run_id, status, now=self.clock(), summary=summary)

    def get_verification(self, verification_id: int) -> VerificationRecord | None:
        with self.read() as s:
            row = s.get(Verification, verification_id)
            return None if row is None else catalog.verification_record(row)

    # -- browsing (read queries for the web pages; see kernels_store.browse) ---------------------

    def generator_results(
        self, task_ids: list[str] | None = None, *, hardware_fingerprint: str | None = None
    ) -> list[browse.GeneratorTaskResult]:
        """Best accepted speedup per (task, hardware, origin, origin_detail): what fast_p is computed from."""
        with self.read() as s:
            return browse.generator_results(s, task_ids, hardware_fingerprint=hardware_fingerprint)

    def hardware_seen(self, *, task_id: str | None = None) -> list[browse.HardwareSeen]:
        """Hardware fingerprints with accepted verifications (of ``task_id``), GPU-timed ones first."""
        with self.read() as s:
            return browse.hardware_seen(s, task_id=task_id)

    def ranked_verifications(
        self,
        task_id: str,
        verdicts: browse.Verdicts,
        *,
        hardware_fingerprint: str | None = None,
        limit: int = 20,
        offset: int = 0,
        source_chars: int | None = None,
    ) -> Page[browse.VerifiedCandidate]:
        """A task's accepted kernels ranked by speedup, or its rejected candidates newest first, paged
        (``source_chars``: only the beginning of each source, see ``browse.ranked_verifications``)."""
        with self.read() as s:
            return browse.ranked_verifications(
                s,
                task_id,
                verdicts,
                hardware_fingerprint=hardware_fingerprint,
                limit=limit,
                offset=offset,
                source_chars=source_chars,
            )

    def speedup_points(
        self, task_id: str, *, hardware_fingerprint: str | None = None, limit: int = 2000
    ) -> Page[browse.SpeedupPoint]:
        """The latest GPU-timed accepted verifications of a task, oldest first, for a plot."""
        with self.read() as s:
            return browse.speedup_points(s, task_id, hardware_fingerprint=hardware_fingerprint, limit=limit)

    def task_headers(self) -> list[browse.TaskHeader]:
        """Every stored task's id, family and title, without sources."""
        with self.read() as s:
            return browse.task_headers(s)


def open_store(
    url: str | None = None,
    *,
    auto_upgrade: bool | None = None,
    clock: Clock = utcnow,
    **engine_kwargs: Any,
) -> Store:
    """Open the store at ``url`` (default: ``$KILN_DATABASE_URL``, else the SQLite file described in
    ``kernels_store.db``) and make sure its schema is current.

    ``auto_upgrade=None`` (the default) migrates SQLite databases to the newest schema (a fresh file
    needs no setup) and requires PostgreSQL databases to be upgraded already with ``kiln db upgrade``
    (``SchemaNotCurrentError`` otherwise). True or False forces either behaviour.
    """
    engine = make_engine(url, **engine_kwargs)
    store = Store(engine, clock=clock)
    try:
        store.migration = ensure_current(
            engine, auto_upgrade=is_sqlite(engine) if auto_upgrade is None else auto_upgrade
        )
    except BaseException:
        engine.dispose()
        raise
    return store
