"""The verifier's verdict: a JSON-friendly record of every check, the timing and the environment."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from verifier.speedup import is_fast

Verdict = Literal["accepted", "rejected", "not_run"]
VERDICTS: tuple[str, ...] = ("accepted", "rejected", "not_run")


@dataclass
class Check:
    """One check's outcome. ``detail`` says what was compared, on which input, and by how much."""

    name: str
    passed: bool
    detail: str = ""


@dataclass
class Timing:
    """GPU timings of one accepted candidate against its reference (milliseconds, medians).

    Never filled from CPU-interpreter runs: those say nothing about kernel speed.
    """

    device_name: str
    candidate_ms: float
    eager_ms: float
    compiled_ms: float | None
    speedup_eager: float
    speedup_compiled: float | None
    runs: int
    warmup_runs: int
    method: str
    shape: str = ""
    compile_error: str | None = None
    wall_ms_per_call: float | None = None
    """Per-call time the trusted parent observed around a back-to-back run (cross-check)."""
    eager_prepare_ms: float | None = None
    """The eager median measured when the reference was prepared. ``eager_ms`` is measured again right
    after the candidate's timed phase when that works (the speedups use it); the two differ by the
    GPU's drift between then and now (clocks, temperature, other tenants)."""
    speedup_low: float | None = None
    """Lower bound of ``speedup_eager`` (95 %, from the eager and candidate samples' medians' order
    statistics: :func:`verifier.speedup.speedup_interval`); what fast_p compares with p. None only
    for timings recorded without their samples."""
    speedup_high: float | None = None
    recheck: str | None = None
    """Why the figure is implausible (over 10x eager; :func:`verifier.speedup.implausible`): kept out
    of fast_p until a re-check confirms it."""
    sm_clock_mhz: dict[str, Any] = field(default_factory=dict)
    """The SM clock read around the timed phases (``candidate``/``eager``: before and after), where
    NVML could be read."""
    fp32_precision: dict[str, str] = field(default_factory=dict)
    """Float32 matmul/convolution precision (``ieee``/``tf32``) the eager baseline was timed with."""


@dataclass
class Report:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    timing: Timing | None = None
    device: str = "cpu"
    language: str = "triton"
    sandbox: dict[str, Any] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    shapes: list[str] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    """python/torch/triton/cuda versions, device name and ``hardware_fingerprint``."""
    reference_sha256: str = ""
    candidate_sha256: str = ""
    reference_name: str = ""
    candidate_name: str = ""
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    """How the run was done where it matters to a reader (autotune configs picked without timing,
    the process-creation filter), never a verdict."""
    logs: dict[str, str] = field(default_factory=dict)
    """Tails of the candidate's stdout/stderr: untrusted text, shown for debugging only."""
    placement: dict[str, Any] = field(default_factory=dict)
    """Where the verification ran when an executor placed it (``executor``, ``node_id``, ``hostname``,
    ``gpu``, ``attempt``); empty when ``verify()`` was called directly. Never part of the verdict."""
    mode: str = "forward"
    """What was verified: ``forward``, ``backward`` (a training step: outputs and gradients; ``timing``
    is forward plus backward) or ``both`` (checks of the backward run named ``backward.<check>``)."""
    backward_timing: Timing | None = None
    """Mode ``both``: the backward run's timing (forward plus backward); ``timing`` is the forward's."""
    static_profile: dict[str, Any] = field(default_factory=dict)
    """A Triton candidate's static GPU profile, an estimate and never a timing: per build registers,
    spills, shared memory, tensor-core instructions, occupancy on the target; per counted call the
    requested bytes, their ratio to the compulsory bytes, sector efficiency, ``tl.dot`` FLOPs; what it
    cannot see. Schema in :mod:`verifier.plan.profile`; empty when none was made. Never part of the
    verdict."""

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"

    @property
    def speedup(self) -> float | None:
        """Speedup over eager PyTorch, or None when not measured (CPU, or not accepted)."""
        return self.timing.speedup_eager if self.timing is not None else None

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        data = dict(data)
        if data.get("verdict") not in VERDICTS:
            raise ValueError(f"unknown verdict {data.get('verdict')!r}")
        data["checks"] = [Check(**c) for c in data.get("checks", [])]
        timing = data.get("timing")
        data["timing"] = Timing(**timing) if timing else None
        backward_timing = data.get("backward_timing")
        data["backward_timing"] = Timing(**backward_timing) if backward_timing else None
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def summary(self) -> str:
        """A few human-readable lines: verdict, reasons, timing."""
        lines = [f"verdict: {self.verdict.upper()}  ({self.language} candidate on {self.device})"]
        lines += [f"  - {r}" for r in self.reasons]
        if self.timing is not None:
            t = self.timing
            comp = (
                f", {t.speedup_compiled:.2f}x over torch.compile ({t.compiled_ms:.4f} ms)"
                if t.speedup_compiled is not None and t.compiled_ms is not None
                else ""
            )
            lines.append(
                f"timing on {t.device_name}: {t.candidate_ms:.4f} ms, {t.speedup_eager:.2f}x over eager "
                f"({t.eager_ms:.4f} ms){comp}; median of {t.runs} runs"
            )
        elif self.verdict == "accepted":
            lines.append("timing: not measured (no GPU; CPU interpreter runs are not kernel timings)")
        return "\n".join(lines)


def rank_key(speedup_eager: float | None, *then: Any) -> tuple[Any, ...]:
    """Which accepted kernel ranks first, as a sort key (ascending = best first), the one rule the
    leaderboard (``kernels_store/ranking.py``, with its SQL form) and a job's candidates
    (``agents/ranking.py``) follow: a GPU-timed kernel before an untimed one (a speed never measured
    is not compared with one that was), the higher speedup over eager first, then the tie-breakers
    ``then`` (earlier first: on a CPU, where nothing is timed, the first accepted kernel stays best)."""
    return (speedup_eager is None, -(speedup_eager or 0.0), *then)


def fast_p(reports: list[Report], p: float) -> float:
    """KernelBench's fast_p: the share of tasks whose candidate is accepted *and* faster than p× eager.

    ``reports`` holds one report per task. p = 0 counts correctness alone. For p > 0 a report
    without a GPU timing counts as not fast: a speedup that was never measured is not claimed; a
    timed one counts when the speedup's lower bound (``Timing.speedup_low``; the speedup itself only
    for a timing recorded without samples) is above p and no plausibility flag (``Timing.recheck``)
    is set.
    """
    if not reports:
        return 0.0
    if p < 0:
        raise ValueError("p must be >= 0")

    def counts(r: Report) -> bool:
        if not r.accepted:
            return False
        if p == 0:
            return True
        t = r.timing
        if t is None:
            return False
        return is_fast(t.speedup_low if t.speedup_low is not None else t.speedup_eager, p, t.recheck)

    return sum(1 for r in reports if counts(r)) / len(reports)
