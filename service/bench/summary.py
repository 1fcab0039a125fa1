"""A bench run's figures: KernelBench's fast_p at p in {0, 0.5, 0.8, 1, 1.5, 2}, the geometric-mean
speedup over correct kernels, counts per verdict, and the ``--json`` object.

fast_p is ``verifier.report.fast_p`` (the one definition) over one report per task: the run's best
accepted kernel's stored report, or a rejection. For p > 0 only GPU timings count; the geometric
mean is over accepted kernels with a GPU timing, and None when there is none. A backward run's
figures are its own (the timing of a training step), never mixed with a forward run's; its
``skipped`` tasks (nothing differentiable) are left out of fast_p's denominator.
"""

from __future__ import annotations

import math
from typing import Any

from kernels_store import RUN_VERDICTS, RunRecord, RunTaskRecord, Store

FAST_P = (0.0, 0.5, 0.8, 1.0, 1.5, 2.0)


def p_key(p: float) -> str:
    return f"{p:g}"


def _report(store: Store, row: RunTaskRecord) -> Any:
    from verifier.report import Report

    if row.verdict == "accepted" and row.best_candidate_id is not None:
        candidate = store.get_candidate(row.best_candidate_id)
        ver_id = row.verified.get(candidate.source_sha256) if candidate is not None else None
        record = store.get_verification(int(ver_id)) if ver_id is not None else None
        if record is not None:
            return record.to_report()
    if row.verdict == "accepted":  # accepted, its stored report missing: counts for correctness only
        return Report(verdict="accepted")
    return Report(verdict="rejected")


def run_summary(store: Store, rows: list[RunTaskRecord]) -> dict[str, Any]:
    """fast_p (over the finished tasks), geomean speedup, and counts; what the run row keeps."""
    from verifier.report import fast_p

    done = [r for r in rows if r.status == "done"]
    reports = [_report(store, r) for r in done if r.verdict != "skipped"]
    speedups = [r.speedup_eager for r in done if r.verdict == "accepted" and r.speedup_eager]
    counts = {v: sum(1 for r in done if r.verdict == v) for v in RUN_VERDICTS}
    return {
        "tasks": len(rows),
        "done": len(done),
        "ranked": len(reports),
        "counts": counts,
        "fast_p": {p_key(p): fast_p(reports, p) if reports else 0.0 for p in FAST_P},
        "geomean_speedup": geomean(speedups),
        "timed": len(speedups),
        "seconds": round(sum(r.seconds for r in done), 1),
    }


def geomean(values: list[float]) -> float | None:
    positive = [v for v in values if v and v > 0 and math.isfinite(v)]
    if not positive:
        return None
    return math.exp(sum(math.log(v) for v in positive) / len(positive))


def run_json(run: RunRecord, rows: list[RunTaskRecord]) -> dict[str, Any]:
    """The ``kiln bench --json`` object (finished tasks only; an interrupted run lists what it finished)."""
    summary = run.summary or {}
    return {
        "run_id": run.id,
        "suite": run.suite,
        "tier": run.tier,
        "mode": run_mode(run),
        "proposer": run.proposer,
        "hardware": run.device_name,
        "tasks": [
            {
                "task_id": r.task_id,
                "reference_ok": bool(r.reference_ok),
                "changed_constants": dict(r.changed_constants),
                "verdict": r.verdict,
                "reason": r.reason,
                "speedup_eager": r.speedup_eager,
                "speedup_compiled": r.speedup_compiled,
                "seconds": r.seconds,
            }
            for r in rows
            if r.status == "done"
        ],
        "fast_p": {p_key(p): float((summary.get("fast_p") or {}).get(p_key(p), 0.0)) for p in FAST_P},
        "geomean_speedup": summary.get("geomean_speedup"),
    }


def run_mode(run: RunRecord) -> str:
    """The run's verification mode (``forward`` for runs made before modes existed)."""
    return str((run.options or {}).get("mode") or "forward")
