"""What a regression run found: one ``KernelResult`` per kernel, and the run's exit code.

Outcomes: ``holds`` (still accepted and, where compared, not slower), ``regressed`` (no longer accepted,
slower by the speed rule, or its stored records were modified), ``could_not_run`` (the check itself
failed: the reference or the verifier could not run) and ``skipped`` (this host cannot check the kernel:
a CUDA kernel or a task without small shapes on a CPU runner).

Exit code: 1 when any kernel regressed; else 2 when any could not run, or when every kernel was skipped
(nothing was checked); else 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kernels_store.records import built_from
from service.regress.speed import SpeedJudgement

if TYPE_CHECKING:
    from kernels_store import VerificationRecord

Outcome = Literal["holds", "regressed", "could_not_run", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("holds", "regressed", "could_not_run", "skipped")
OUTCOME_LABELS: dict[str, str] = {
    "holds": "holds",
    "regressed": "REGRESSED",
    "could_not_run": "could not run",
    "skipped": "skipped",
}
StoredAs = Literal["added", "replaced", "kept", "not recorded"]
EXIT_HOLDS, EXIT_REGRESSED, EXIT_COULD_NOT_RUN = 0, 1, 2
VERSION_KEYS = ("torch", "triton", "cuda")


@dataclass(frozen=True)
class Recorded:
    """The stored verification that made this kernel the best."""

    verification_id: int
    verdict: str
    speedup_eager: float | None
    candidate_ms: float | None
    reference_sha256: str
    device_name: str
    shapes: list[str]
    versions: dict[str, str | None]

    @classmethod
    def of(cls, verification: VerificationRecord) -> Recorded:
        shapes = verification.report.get("shapes")
        return built_from(
            cls,
            verification,
            verification_id=verification.id,
            shapes=[str(s) for s in shapes] if isinstance(shapes, list) else [],
            versions={
                "torch": verification.torch_version,
                "triton": verification.triton_version,
                "cuda": verification.cuda_version,
            },
        )


@dataclass(frozen=True)
class Rerun:
    """The new verification(s) on this host. Timing fields are medians over GPU runs, else None."""

    verdict: str
    reasons: list[str]
    device: str
    hardware_fingerprint: str
    shapes: list[str]
    versions: dict[str, str | None]
    runs: int
    speedup_eager: float | None = None
    candidate_ms: float | None = None
    duration_s: float = 0.0


@dataclass(frozen=True)
class KernelResult:
    task_id: str
    hardware_fingerprint: str
    """The fingerprint the kernel was recorded as best for."""
    device_name: str
    candidate_id: int
    candidate_sha256: str
    language: str
    origin: str
    origin_detail: str
    outcome: Outcome
    reason: str
    recorded: Recorded
    rerun: Rerun | None = None
    stale_reference: bool = False
    """The task's reference source changed since the recorded verification."""
    speed_checked: bool = False
    speed: SpeedJudgement | None = None
    notes: tuple[str, ...] = ()
    detail: str = ""
    """The verifier's full error text (a traceback) when it could not run; the reason has its first line."""
    stored_as: StoredAs = "not recorded"
    duration_s: float = 0.0
    mode: str = "forward"
    """The mode the kernel was verified (and is re-verified) in: ``forward``, ``backward`` or ``both``."""

    @property
    def kernel_label(self) -> str:
        mode = "" if self.mode == "forward" else f", {self.mode}"
        return f"#{self.candidate_id} {self.candidate_sha256[:10]} ({self.language}{mode})"

    @property
    def origin_label(self) -> str:
        return f"{self.origin}:{self.origin_detail}" if self.origin_detail else self.origin

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome_label"] = OUTCOME_LABELS[self.outcome]
        data["notes"] = list(self.notes)
        return data


@dataclass
class RegressRun:
    results: list[KernelResult]
    device: str
    database: str
    selection: str
    record: bool
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {o: sum(r.outcome == o for r in self.results) for o in OUTCOMES}

    @property
    def exit_code(self) -> int:
        return exit_code_for([r.outcome for r in self.results])

    def headline(self) -> str:
        """E.g. ``1 REGRESSED, 2 hold, 0 could not run, 0 skipped (3 kernels, 41 s)``."""
        c, n = self.counts(), len(self.results)
        return (
            f"{c['regressed']} REGRESSED, {c['holds']} hold, {c['could_not_run']} could not run, "
            f"{c['skipped']} skipped ({n} kernel{'' if n == 1 else 's'}, {self.duration_s:.0f} s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": {
                "exit_code": self.exit_code,
                "kernels": len(self.results),
                **self.counts(),
                "device": self.device,
                "speed_checked": any(r.speed_checked for r in self.results),
                "database": self.database,
                "selection": self.selection,
                "record": self.record,
                "duration_s": round(self.duration_s, 3),
                "notes": list(self.notes),
            },
            "results": [r.to_dict() for r in self.results],
        }


def exit_code_for(outcomes: list[Outcome]) -> int:
    """1 if any regressed; 2 if any could not run or all were skipped; else 0."""
    if "regressed" in outcomes:
        return EXIT_REGRESSED
    if "could_not_run" in outcomes or (outcomes and all(o == "skipped" for o in outcomes)):
        return EXIT_COULD_NOT_RUN
    return EXIT_HOLDS


def version_changes(before: dict[str, str | None], after: dict[str, str | None]) -> str:
    """E.g. ``torch 2.12.0 → 2.13.0+cpu, cuda 12.8 → none``; empty when nothing changed."""
    changed = [
        f"{key} {before.get(key) or 'none'} → {after.get(key) or 'none'}"
        for key in VERSION_KEYS
        if before.get(key) != after.get(key)
    ]
    return ", ".join(changed)
