"""``Store``: the one object the service, the generators and ``kiln regress`` use to reach the database.

Every method is one transaction (writes on SQLite begin with ``BEGIN IMMEDIATE``) and returns plain
records from ``kernels_store.records``. Most methods are the query modules' functions (``catalog``,
``jobs``, ``runs``, ``leaderboard``, ``latest_best``, ``browse``) bound to a transaction: their
signature and docstring are written there, once. A ``Store`` is safe to share between threads; open
one per process with ``open_store`` and keep it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kernels_store import browse, catalog, jobs, latest_best, leaderboard, runs
from kernels_store.db import for_writing, is_sqlite, make_engine, redacted
from kernels_store.environment import Environment
from kernels_store.migrate import MigrationResult, ensure_current
from kernels_store.models import Verification, utcnow
from kernels_store.records import (
    BestKernel,
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


def _in_transaction(query: Callable[..., Any], *, write: bool) -> Callable[..., Any]:
    """A ``Store`` method that runs ``query(session, ...)`` in one transaction (a write one when ``write``),
    passing ``now=store.clock()`` when ``query`` takes ``now``. Its name, docstring and signature are
    ``query``'s, less the session and ``now``: each is written once, on the module function."""
    signature = inspect.signature(query)
    parameters = list(signature.parameters.values())
    takes_now = "now" in signature.parameters
    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)

    @functools.wraps(query)
    def method(self: Store, *args: Any, **kwargs: Any) -> Any:
        if takes_now:
            kwargs["now"] = self.clock()
        with self.write() if write else self.read() as session:
            return query(session, *args, **kwargs)

    public = [p for p in parameters[1:] if p.name != "now"]
    method.__signature__ = signature.replace(parameters=[self_parameter, *public])  # type: ignore[attr-defined]
    del method.__wrapped__  # help() and inspect show the method's own signature, not the query's
    return method


def _reads(query: Callable[..., Any]) -> Callable[..., Any]:
    """A read-only ``Store`` method over ``query`` (see ``_in_transaction``)."""
    return _in_transaction(query, write=False)


def _writes(query: Callable[..., Any]) -> Callable[..., Any]:
    """A ``Store`` method over ``query`` in one write transaction (see ``_in_transaction``)."""
    return _in_transaction(query, write=True)


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
    put_task = _writes(catalog.put_task)
    get_task = _reads(catalog.get_task)
    list_tasks = _reads(catalog.list_tasks)
    task_source = _reads(catalog.task_source)
    task_versions = _reads(catalog.task_versions)

    # -- candidates -----------------------------------------------------------------------------
    add_candidate = _writes(catalog.add_candidate)
    get_candidate = _reads(catalog.get_candidate)
    find_candidate = _reads(catalog.find_candidate)
    lineage = _reads(catalog.lineage)
    list_candidates = _reads(catalog.list_candidates)

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

    find_verification = _reads(catalog.find_verification)
    list_verifications = _reads(catalog.list_verifications)

    def is_verified(
        self,
        candidate_id: int,
        environment: Environment | Mapping[str, Any],
        *,
        reference_sha256: str | None = None,
        mode: str = "forward",
    ) -> bool:
        """True when a verdict other than ``not_run`` exists for the candidate in this environment and mode."""
        found = self.find_verification(candidate_id, environment, reference_sha256=reference_sha256, mode=mode)
        return found is not None and found.verdict != "not_run"

    def get_verification(self, verification_id: int) -> VerificationRecord | None:
        with self.read() as s:
            row = s.get(Verification, verification_id)
            return None if row is None else catalog.verification_record(row)

    # -- results --------------------------------------------------------------------------------
    def best_kernel(self, task_id: str, hardware_fingerprint: str, mode: str = "forward") -> BestKernel | None:
        """The task's best accepted kernel on this hardware in ``mode`` (see ``BestKernel``), or None."""
        found = self.best_kernels(task_id=task_id, hardware_fingerprint=hardware_fingerprint, mode=mode)
        return found[0] if found else None

    best_kernels = _reads(leaderboard.best_kernels)
    latest_best_kernels = _reads(latest_best.latest_best_kernels)
    origin_counts = _reads(leaderboard.origin_counts)
    stats = _reads(leaderboard.stats)

    # -- jobs -----------------------------------------------------------------------------------
    create_job = _writes(jobs.create_job)
    get_job = _reads(jobs.get_job)
    claim_next_job = _writes(jobs.claim_next_job)
    heartbeat = _writes(jobs.heartbeat)
    update_progress = _writes(jobs.update_progress)
    finish_job = _writes(jobs.finish_job)
    release_job = _writes(jobs.release_job)
    request_cancel = _writes(jobs.request_cancel)
    list_jobs = _reads(jobs.list_jobs)

    # -- bench runs (kiln bench; see kernels_store.runs) -----------------------------------------
    create_run = _writes(runs.create_run)
    get_run = _reads(runs.get_run)
    run_tasks = _reads(runs.run_tasks)
    run_tasks_page = _reads(runs.run_tasks_page)
    run_suites = _reads(runs.run_suites)
    list_runs = _reads(runs.list_runs)
    run_task_counts = _reads(runs.run_task_counts)
    update_run_task = _writes(runs.update_run_task)
    note_run_verified = _writes(runs.note_verified)
    set_run_status = _writes(runs.set_run_status)

    # -- browsing (read queries for the web pages; see kernels_store.browse) ---------------------
    generator_results = _reads(browse.generator_results)
    hardware_seen = _reads(browse.hardware_seen)
    ranked_verifications = _reads(browse.ranked_verifications)
    speedup_points = _reads(browse.speedup_points)
    task_headers = _reads(browse.task_headers)


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
