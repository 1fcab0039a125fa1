"""Store bundles: a store's tasks, candidates and verifications (jobs optional) as JSON Lines.

Line 1 is the header ``{"format": "kernelkiln-store-bundle", "schema_version": 1, ...}``; then one
record per line, each with a ``type``: ``task``, ``job``, ``candidate``, ``verification``, in an order
where every record comes after what it refers to; the last line is ``{"type": "end", "records": N}``,
so a truncated file is detected. Records refer to each other by natural keys, not database ids:
a candidate by (``task_id``, ``source_sha256``), its parent by ``parent_sha256``.

Import is one transaction and idempotent: what the store already has is skipped, so importing a bundle
twice adds nothing. Any bad line (malformed JSON, nesting or integers beyond ``bundle_checks``' bounds,
unknown type or schema version, a missing or mistyped field, a source whose sha256 does not match, a
reference to a record that is neither in the store nor earlier in the bundle, a task id stored with a
different reference source, a built-in task's id with another source, metadata or a job the
``ImportPolicy`` refuses) raises ``BundleError`` naming the line, and the store is left unchanged.
Job owner tokens' hashes are not exported.

Imported verdicts are another store's claims: they are stored with ``imported`` provenance (the
bundle's name, when) and count for nothing until this deployment verifies them
(``kernels_store.provenance``). Imported jobs arrive finished or cancelled, never runnable.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, aliased

from kernels_store import bundle_checks, catalog
from kernels_store.bundle_checks import ImportPolicy
from kernels_store.errors import BundleError, StoreError
from kernels_store.jobs import job_record
from kernels_store.models import Candidate, Job, Task, Verification
from kernels_store.provenance import Provenance
from kernels_store.store import Store

BUNDLE_FORMAT = "kernelkiln-store-bundle"
SCHEMA_VERSION = 1
RECORD_TYPES = ("task", "job", "candidate", "verification")


@dataclass
class BundleSummary:
    """Records per type: ``added`` to the store (or written, for an export), or already ``present``."""

    added: Counter[str] = field(default_factory=Counter)
    present: Counter[str] = field(default_factory=Counter)

    def total(self) -> int:
        return sum(self.added.values()) + sum(self.present.values())

    def describe(self) -> str:
        """E.g. ``tasks: 2 added, 1 present; candidates: 5 added``."""
        parts = []
        for kind in RECORD_TYPES:
            pairs = ((self.added[kind], "added"), (self.present[kind], "present"))
            counts = [f"{n} {label}" for n, label in pairs if n]
            if counts:
                parts.append(f"{kind}s: {', '.join(counts)}")
        return "; ".join(parts) or "no records"

    def describe_written(self) -> str:
        """E.g. ``2 tasks, 5 candidates, 7 verifications``."""
        return ", ".join(f"{self.added[k]} {k}s" for k in RECORD_TYPES if self.added[k]) or "no records"


# -- export -------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def export_bundle(
    store: Store, out: IO[str], *, include_jobs: bool = False, task_ids: Iterable[str] | None = None
) -> BundleSummary:
    """Write the store (or the given tasks) to ``out`` as a bundle; returns what was written."""
    summary = BundleSummary()
    wanted = None if task_ids is None else sorted(set(task_ids))

    def write_line(record: dict[str, Any]) -> None:
        out.write(json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n")

    def emit(record: dict[str, Any]) -> None:
        write_line(record)
        summary.added[record["type"]] += 1

    def for_tasks(query: Any, column: Any) -> Any:
        return query if wanted is None else query.where(column.in_(wanted))

    write_line({"format": BUNDLE_FORMAT, "schema_version": SCHEMA_VERSION, "exported_at": _iso(store.clock())})
    with store.read() as s:
        stream = {"yield_per": 200}
        for task in s.scalars(for_tasks(select(Task), Task.id).order_by(Task.id).execution_options(**stream)):
            emit(_task_line(task))
        exported_jobs: set[str] = set()
        if include_jobs:
            # generation jobs only: a compile job's model source and report are not a bundle's records
            # (its kernel groups travel as tasks, candidates and verdicts), and import takes kind 'generate'
            jobs = for_tasks(select(Job).where(Job.kind == "generate"), Job.task_id).order_by(Job.created_at, Job.id)
            for job in s.scalars(jobs.execution_options(**stream)):
                emit(_job_line(job))
                exported_jobs.add(job.id)
        parent = aliased(Candidate)
        candidates = (
            select(Candidate, parent.source_sha256)
            .outerjoin(parent, parent.id == Candidate.parent_id)
            .order_by(Candidate.id)
        )
        for cand, parent_sha in s.execute(for_tasks(candidates, Candidate.task_id).execution_options(**stream)):
            emit(_candidate_line(cand, parent_sha, cand.job_id if cand.job_id in exported_jobs else None))
        verifications = (
            select(Verification, Candidate.source_sha256)
            .join(Candidate, Candidate.id == Verification.candidate_id)
            .order_by(Verification.id)
        )
        for ver, cand_sha in s.execute(for_tasks(verifications, Verification.task_id).execution_options(**stream)):
            emit(_verification_line(ver, cand_sha))
    write_line({"type": "end", "records": summary.total()})
    return summary


def _task_line(task: Task) -> dict[str, Any]:
    return {
        "type": "task",
        "id": task.id,
        "family": task.family,
        "title": task.title,
        "source": task.source,
        "source_sha256": task.source_sha256,
        "shapes": task.shapes,
        "extra": task.extra,
        "created_at": _iso(task.created_at),
    }


def _job_line(job: Job) -> dict[str, Any]:
    record = job_record(job).to_dict()  # leaves out the owner token's hash
    record.pop("worker_id", None)
    return {"type": "job", **record}


def _candidate_line(cand: Candidate, parent_sha256: str | None, job_id: str | None) -> dict[str, Any]:
    return {
        "type": "candidate",
        "task_id": cand.task_id,
        "source": cand.source,
        "source_sha256": cand.source_sha256,
        "language": cand.language,
        "origin": cand.origin,
        "origin_detail": cand.origin_detail,
        "parent_sha256": parent_sha256,
        "job_id": job_id,
        "name": cand.name,
        "extra": cand.extra,
        "created_at": _iso(cand.created_at),
    }


def _verification_line(ver: Verification, candidate_sha256: str) -> dict[str, Any]:
    return {
        "type": "verification",
        "task_id": ver.task_id,
        "candidate_sha256": candidate_sha256,
        "report": ver.report,
        "created_at": _iso(ver.created_at),
        "provenance": ver.provenance,  # informative: whatever it says, an import stores "imported"
    }


# -- import -------------------------------------------------------------------------------------


class _Fields:
    """Typed access to one record's fields; problems raise ValueError with the field's name."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = record

    def get(self, name: str, kind: type | tuple[type, ...], *, required: bool = True, default: Any = None) -> Any:
        if name not in self.record or self.record[name] is None:
            if required:
                raise ValueError(f"missing field {name!r}")
            return default
        value = self.record[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise ValueError(f"field {name!r} must be {names}, not {type(value).__name__}")
        return value

    def text(self, name: str, *, required: bool = True, default: str | None = None, max_length: int = 200) -> Any:
        value = bundle_checks.text(self.record.get(name), name, max_length=max_length, required=required)
        return default if value is None else value

    def time(self, name: str) -> datetime | None:
        raw = self.text(name, required=False)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"field {name!r} is not an ISO 8601 time: {raw!r}") from None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    def source(self) -> tuple[str, str]:
        source = self.get("source", str)
        digest = self.text("source_sha256", max_length=64)
        if catalog.sha256_text(source) != digest:
            raise ValueError("source_sha256 does not match the sha256 of source")
        return source, digest


Importer = Callable[[Session, _Fields, datetime, ImportPolicy], bool]


def import_bundle(store: Store, lines: Iterable[str | bytes], policy: ImportPolicy | None = None) -> BundleSummary:
    """Import a bundle (an open file, text or binary, or any iterable of lines) in one transaction,
    under ``policy`` (the importing service's rules; by default none beyond the bundle's own)."""
    policy = policy or ImportPolicy()
    summary = BundleSummary()
    importers: dict[str, Importer] = {
        "task": _import_task,
        "job": _import_job,
        "candidate": _import_candidate,
        "verification": _import_verification,
    }
    line_no, records, ended = 0, 0, False
    with store.write() as s:
        now = store.clock()
        for line_no, raw in enumerate(lines, start=1):
            record = _parse_line(raw, line_no)
            if record is None:
                continue
            if line_no == 1:
                _check_header(record)
                continue
            if ended:
                raise BundleError(line_no, "data after the end record")
            kind = record.get("type")
            if kind == "end":
                declared = record.get("records")
                if declared != records:
                    raise BundleError(line_no, f"end record says {declared!r} records, the bundle has {records}")
                ended = True
                continue
            if kind not in importers:
                expected = ", ".join((*RECORD_TYPES, "end"))
                raise BundleError(line_no, f"unknown record type {kind!r} (expected one of: {expected})")
            records += 1
            try:
                added = importers[kind](s, _Fields(record), now, policy)
            except (ValueError, TypeError, OverflowError, StoreError) as e:
                raise BundleError(line_no, f"{kind} record: {e}") from e
            except SQLAlchemyError as e:
                cause = getattr(e, "orig", None) or e
                raise BundleError(line_no, f"{kind} record rejected by the database: {cause}") from e
            (summary.added if added else summary.present)[kind] += 1
        if line_no == 0:
            raise BundleError(0, "empty file: not a store bundle (no header line)")
        if not ended:
            raise BundleError(line_no + 1, f"truncated bundle: no end record after line {line_no}")
    return summary


def _parse_line(raw: str | bytes, line_no: int) -> dict[str, Any] | None:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as e:
        raise BundleError(line_no, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    if not text.strip():
        if line_no == 1:
            raise BundleError(1, "empty first line: expected the bundle header")
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise BundleError(line_no, f"malformed JSON: {e.msg} at column {e.colno}") from None
    except RecursionError:
        raise BundleError(line_no, "malformed JSON: nested too deeply") from None
    except ValueError as e:  # an integer with more digits than Python converts
        raise BundleError(line_no, f"malformed JSON: {e}") from None
    if not isinstance(record, dict):
        raise BundleError(line_no, f"expected a JSON object, found {type(record).__name__}")
    try:
        bundle_checks.check_bounds(record)
    except ValueError as e:
        raise BundleError(line_no, f"refused: {e}") from None
    return record


def _check_header(header: Mapping[str, Any]) -> None:
    if header.get("format") != BUNDLE_FORMAT:
        raise BundleError(1, f"not a store bundle: header format is {header.get('format')!r}, not {BUNDLE_FORMAT!r}")
    version = header.get("schema_version")
    if version != SCHEMA_VERSION:
        supported = f"this kiln reads version {SCHEMA_VERSION}"
        raise BundleError(1, f"unsupported bundle schema version {version!r} ({supported})")


def _missing(what: str) -> ValueError:
    return ValueError(f"refers to {what}, which is neither in the store nor earlier in the bundle")


def _import_task(s: Session, f: _Fields, now: datetime, policy: ImportPolicy) -> bool:
    task_id = f.text("id", max_length=200)
    if not task_id.strip():
        raise ValueError("field 'id' is empty")
    source, digest = f.source()
    builtin = policy.builtin_source(task_id)
    if builtin is not None and catalog.sha256_text(builtin) != digest:
        raise ValueError(f"task {task_id!r} is a built-in task: a bundle cannot change its reference source")
    extra = {} if builtin is not None else f.get("extra", dict, required=False, default={})
    policy.check_task_extra(extra)
    stored = s.get(Task, task_id)
    if stored is not None:
        if stored.source_sha256 != digest:
            raise ValueError(
                f"task {task_id!r} is in the store with a different reference source "
                f"(sha256 {stored.source_sha256[:12]}…, bundle {digest[:12]}…)"
            )
        return False
    catalog.put_task(
        s,
        task_id,
        source,
        now=now,
        family=f.text("family", required=False, default="", max_length=100),
        title=f.text("title", required=False, default="", max_length=300),
        shapes=f.get("shapes", (list, dict), required=False, default=[]),
        extra=extra,
        created_at=f.time("created_at"),
    )
    return True


def _import_job(s: Session, f: _Fields, now: datetime, policy: ImportPolicy) -> bool:
    """A job as ``POST /v1/jobs`` would have accepted it, finished or cancelled (never runnable here)."""
    job_id = f.text("id", max_length=32)
    if not bundle_checks.JOB_ID.fullmatch(job_id):
        raise ValueError("field 'id' must be 1 to 32 letters, digits, '-' or '_'")
    if s.get(Job, job_id) is not None:
        return False
    kind = f.text("kind", required=False, default="generate", max_length=32)
    if kind != "generate":
        raise ValueError(f"unknown job kind {kind!r} (expected 'generate')")
    task_id = f.text("task_id", required=False)
    if task_id is not None and s.get(Task, task_id) is None:
        raise _missing(f"task {task_id!r}")
    budget = f.record.get("budget")
    if budget is not None:
        bundle_checks.integer(budget, "budget", 1, policy.max_budget)
    error = f.text("error", required=False, max_length=10_000)
    state = bundle_checks.job_state(f.record.get("status"), error, f.time("finished_at"), now)
    created = f.time("created_at") or now
    s.add(
        Job(
            id=job_id,
            kind=kind,
            task_id=task_id,
            params=bundle_checks.job_params(f.record.get("params")),
            budget=budget,
            progress=bundle_checks.job_progress(f.record.get("progress")),
            result=bundle_checks.job_result(f.record.get("result")),
            cancel_requested=False,
            attempts=bundle_checks.integer(f.record.get("attempts", 0), "attempts", 0, bundle_checks.MAX_ATTEMPTS),
            created_at=created,
            updated_at=f.time("updated_at") or created,
            started_at=f.time("started_at"),
            **state,
        )
    )
    s.flush()
    return True


def _import_candidate(s: Session, f: _Fields, now: datetime, policy: ImportPolicy) -> bool:
    task_id = f.text("task_id")
    source, _ = f.source()
    if s.get(Task, task_id) is None:
        raise _missing(f"task {task_id!r}")
    parent_id = None
    parent_sha = f.text("parent_sha256", required=False, max_length=64)
    if parent_sha is not None:
        parent = catalog.find_candidate(s, task_id, parent_sha)
        if parent is None:
            raise _missing(f"parent candidate {parent_sha[:12]}… of task {task_id!r}")
        parent_id = parent.id
    job_id = f.text("job_id", required=False, max_length=32)
    if job_id is not None and s.get(Job, job_id) is None:
        raise _missing(f"job {job_id!r}")
    added = catalog.add_candidate(
        s,
        task_id,
        source,
        now=now,
        language=f.text("language", max_length=16),
        origin=f.text("origin", max_length=16),
        origin_detail=f.text("origin_detail", required=False, default=""),
        parent_id=parent_id,
        job_id=job_id,
        name=f.text("name", required=False, default=""),
        extra=f.get("extra", dict, required=False, default={}),
        created_at=f.time("created_at"),
    )
    return added.created


def _import_verification(s: Session, f: _Fields, now: datetime, policy: ImportPolicy) -> bool:
    task_id, candidate_sha = f.text("task_id"), f.text("candidate_sha256", max_length=64)
    report = f.get("report", dict)
    candidate = catalog.find_candidate(s, task_id, candidate_sha)
    if candidate is None:
        raise _missing(f"candidate {candidate_sha[:12]}… of task {task_id!r}")
    recorded = catalog.record_verification(
        s,
        candidate.id,
        report,
        now=now,
        created_at=f.time("created_at"),
        provenance=Provenance.imported(policy.bundle, now),
    )
    return recorded.created or recorded.replaced
