"""What ``kiln regress`` checks: the store's latest best kernels, selected, and their integrity.

A target is one (task, hardware fingerprint, mode) best kernel from ``Store.latest_best_kernels``: the current
best, or, for a task whose reference source changed since, the previous best (``stale``), or where this
deployment verified nothing, the best kernel imported from a bundle (``imported``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kernels_store import BestKernel, Store, TaskRecord
from kernels_store.catalog import sha256_text


@dataclass(frozen=True)
class Selection:
    """Filters from the command line; an empty tuple means "all"."""

    task_ids: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    hardware_fingerprints: tuple[str, ...] = ()

    @property
    def explicit(self) -> bool:
        return bool(self.task_ids or self.families or self.hardware_fingerprints)

    def describe(self) -> str:
        parts = [
            f"{label} {', '.join(values)}"
            for label, values in (
                ("task", self.task_ids),
                ("family", self.families),
                ("hardware", self.hardware_fingerprints),
            )
            if values
        ]
        return "; ".join(parts) or "all"


@dataclass(frozen=True)
class Target:
    best: BestKernel
    task: TaskRecord

    @property
    def imported(self) -> bool:
        """True when the kernel's verdict was imported from a bundle, never verified by this deployment:
        it is re-verified, but its recorded timing is no baseline."""
        return not self.best.verification.verified_here

    @property
    def stale(self) -> bool:
        """True when the kernel was verified against an older reference source of the task."""
        return self.best.verification.reference_sha256 != self.task.source_sha256


def select_targets(store: Store, selection: Selection) -> list[Target]:
    """The selected latest best kernels of every mode (each mode's best apart: a training kernel is
    re-verified as one), by task id, hardware fingerprint, then mode."""
    best = store.latest_best_kernels(
        task_ids=selection.task_ids or None,
        families=selection.families or None,
        hardware_fingerprints=selection.hardware_fingerprints or None,
        mode=None,
    )
    tasks: dict[str, TaskRecord | None] = {task_id: store.get_task(task_id) for task_id in {b.task_id for b in best}}
    return [Target(b, task) for b in best if (task := tasks[b.task_id]) is not None]


def integrity_problem(target: Target) -> str | None:
    """Why the stored records cannot be trusted (sources edited after they were hashed), or None."""
    cand, task = target.best.candidate, target.task
    actual = sha256_text(cand.source)
    if actual != cand.source_sha256:
        return (
            f"the kernel's source in the store no longer matches its recorded sha256 "
            f"({cand.source_sha256[:12]}… recorded, {actual[:12]}… now): it was modified after it was verified; not run"
        )
    reported = target.best.verification.report.get("candidate_sha256") or cand.source_sha256
    if reported != cand.source_sha256:
        return (
            f"the recorded verification is of another source (sha256 {reported[:12]}…) than the kernel's "
            f"({cand.source_sha256[:12]}…); not run"
        )
    actual_task = sha256_text(task.source)
    if actual_task != task.source_sha256:
        return (
            f"task {task.id}'s reference source in the store no longer matches its recorded sha256 "
            f"({task.source_sha256[:12]}… recorded, {actual_task[:12]}… now): it was modified in the database; not run"
        )
    return None
