"""What a bundle line must be to be imported: bounded JSON, and job records that can never run here.

A bundle is another store's word: ``kernels_store.bundle`` checks its consistency, this module the
rest. Every problem raises ``ValueError`` (the importer names the line). ``ImportPolicy`` carries the
rules the importing service adds (built-in tasks, task metadata, the budget cap), because the store
knows no task registry and no verifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kernels_store.models import FINISHED_JOB_STATUSES, JOB_STATUSES, LANGUAGES, MODES

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects in a record (reports nest a few levels)."""
MAX_INT = 2**63 - 1
"""Largest integer magnitude (a 64-bit column; anything beyond it is not a count or a size)."""
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
PROPOSERS = ("template", "llm")
MAX_ATTEMPTS = 1000
SHA256 = re.compile(r"[0-9a-f]{64}")


def _no_builtin(_task_id: str) -> str | None:
    return None


def _any_extra(_extra: Mapping[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class ImportPolicy:
    """The importing deployment's rules, beyond the bundle's own consistency."""

    bundle: str = "bundle"
    """How the verdicts' provenance names the bundle (its file name)."""
    builtin_source: Callable[[str], str | None] = _no_builtin
    """A built-in task's reference source by id (None: not built-in): a bundle never changes one."""
    check_task_extra: Callable[[Mapping[str, Any]], None] = _any_extra
    """Raises ``ValueError`` for task metadata (``extra``: tolerances, allowed ops) this service refuses."""
    max_budget: int = 64
    """The largest job budget accepted (the service's ``KILN_MAX_BUDGET``)."""


def check_bounds(value: Any, depth: int = 0) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` and integers beyond ``MAX_INT`` anywhere in ``value``."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise ValueError(f"an integer with {len(str(abs(value)))} digits (the most is {MAX_INT})")
    elif isinstance(value, dict):
        for item in value.values():
            check_bounds(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_bounds(item, depth + 1)


def text(value: Any, name: str, *, max_length: int, required: bool = True) -> str | None:
    """A string field of at most ``max_length`` characters with no control characters."""
    if value is None:
        if required:
            raise ValueError(f"missing field {name!r}")
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be str, not {type(value).__name__}")
    if len(value) > max_length:
        raise ValueError(f"field {name!r} is longer than {max_length} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value) and name not in ("error",):
        raise ValueError(f"field {name!r} holds control characters")
    return value


def integer(value: Any, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"field {name!r} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"field {name!r} is {value}; it must be between {low} and {high}")
    return value


def job_params(raw: Any) -> dict[str, Any]:
    """A job's ``params`` as ``POST /v1/jobs`` accepts them: language, proposer, model, mode."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"field 'params' must be an object, not {type(raw).__name__}")
    unknown = sorted(set(raw) - {"language", "proposer", "model", "mode"})
    if unknown:
        raise ValueError(f"field 'params' has unknown keys: {', '.join(map(repr, unknown))}")
    language, proposer = raw.get("language", "triton"), raw.get("proposer", "template")
    if language not in LANGUAGES:
        raise ValueError(f"params.language must be one of {', '.join(LANGUAGES)}, not {language!r}")
    if proposer not in PROPOSERS:
        raise ValueError(f"params.proposer must be one of {', '.join(PROPOSERS)}, not {proposer!r}")
    mode = raw.get("mode", "forward")
    if mode not in MODES:
        raise ValueError(f"params.mode must be one of {', '.join(MODES)}, not {str(mode)[:40]!r}")
    params: dict[str, Any] = {"language": language, "proposer": proposer, "mode": mode}
    model = text(raw.get("model"), "params.model", max_length=200, required=False)
    return params | ({"model": model} if model else {})


def job_result(raw: Any) -> dict[str, Any] | None:
    """A finished job's ``result``: an object whose ``best_sha256`` is a sha256 or null."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError(f"field 'result' must be an object or null, not {type(raw).__name__}")
    best = raw.get("best_sha256")
    if best is not None and not (isinstance(best, str) and SHA256.fullmatch(best)):
        raise ValueError("result.best_sha256 must be a sha256 (64 hex digits) or null")
    speedup = raw.get("best_speedup")
    if speedup is not None and (not isinstance(speedup, int | float) or isinstance(speedup, bool)):
        raise ValueError("result.best_speedup must be a number or null")
    return raw


def job_progress(raw: Any) -> dict[str, Any]:
    """A job's ``progress``: an object whose ``best`` is null or an object with a sha256."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"field 'progress' must be an object, not {type(raw).__name__}")
    best = raw.get("best")
    if best is not None:
        sha = best.get("sha256") if isinstance(best, dict) else None
        if not isinstance(best, dict) or (sha is not None and not (isinstance(sha, str) and SHA256.fullmatch(sha))):
            raise ValueError("progress.best must be null or an object whose sha256 is 64 hex digits")
    return raw


def job_state(status: Any, error: str | None, finished_at: datetime | None, now: datetime) -> dict[str, Any]:
    """A job's status as imported: a finished job stays finished; a queued or running one arrives
    cancelled (it ran, or was to run, on another deployment: never here)."""
    if status not in JOB_STATUSES:
        raise ValueError(f"unknown job status {status!r}")
    if status in FINISHED_JOB_STATUSES:
        return {"status": status, "error": error, "finished_at": finished_at or now}
    note = f"imported while {status} on another deployment: not run here"
    return {"status": "cancelled", "error": note, "finished_at": now}
