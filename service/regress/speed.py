"""The noise-aware speed rule: did a kernel get slower than its recorded GPU result on the same hardware?

Inputs are the recorded result (candidate time and speedup over eager PyTorch, both medians of the
verifier's timed runs) and N new measurements, each one whole verification on this host: the
candidate's median time and the eager reference's median time, measured in the same run. Pure
arithmetic, no I/O: every number comes from the verifier's GPU timings, never from CPU runs.

The rule (constants below):

- ``new_ms`` = median of the new candidate times; ``new_speedup`` = median of the per-run speedups
  (eager_ms / candidate_ms of one run, so both sides saw the same machine state);
- the *allowance* of each quantity is ``max(TOLERANCE, SPREAD_FACTOR × relative spread)``, the relative
  spread being the median absolute deviation of the new values divided by their median (0 for one run);
- the candidate time *got worse* when ``new_ms > recorded_ms × (1 + time allowance)``;
  the speedup *got worse* when ``new_speedup < recorded_speedup × (1 − speedup allowance)``;
- it is a **regression only when both got worse**. The kernel slower but eager PyTorch slower by as
  much means a slower machine state (clocks, a busy GPU), not a slower kernel; the speedup lower but
  the kernel's time unchanged means eager PyTorch got faster (a newer torch), not that the kernel
  slowed down. Both are reported as notes, not failures.

Example: recorded 1.00 ms at 2.00x; new runs 1.30, 1.28, 1.33 ms with eager 2.00, 2.02, 1.99 ms.
new_ms = 1.30 ms (+30 %), spread 0.02/1.30 = 1.5 % so the allowance is 10 %; new speedup 1.54x
(−23 %, allowance 10 %): both worse, a regression.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

TOLERANCE = 0.10
"""The smallest relative change counted as a change (10 %): GPU timings of one kernel vary by a few %."""
SPREAD_FACTOR = 3.0
"""Allowance in units of the new measurements' relative spread (median absolute deviation / median)."""


@dataclass(frozen=True)
class RecordedSpeed:
    """The stored result's GPU timing: candidate median time (ms) and its speedup over eager PyTorch."""

    candidate_ms: float
    speedup_eager: float


@dataclass(frozen=True)
class SpeedSample:
    """One new verification's GPU timing: candidate and eager medians (ms), measured in the same run."""

    candidate_ms: float
    eager_ms: float

    @property
    def speedup_eager(self) -> float:
        return self.eager_ms / self.candidate_ms


@dataclass(frozen=True)
class SpeedJudgement:
    regressed: bool
    summary: str
    """One sentence with the numbers: the failure reason when ``regressed``, otherwise a note."""
    recorded_ms: float
    recorded_speedup: float
    new_ms: float
    new_speedup: float
    time_change: float
    """Relative change of the candidate time: +0.30 is 30 % slower."""
    speedup_change: float
    """Relative change of the speedup over eager: -0.20 is 20 % lower."""
    time_allowance: float
    speedup_allowance: float
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def relative_spread(values: Sequence[float]) -> float:
    """Median absolute deviation divided by the median (0 for a single value)."""
    middle = statistics.median(values)
    return statistics.median(abs(v - middle) for v in values) / middle


def allowance(values: Sequence[float], tolerance: float = TOLERANCE, spread_factor: float = SPREAD_FACTOR) -> float:
    """The relative change below which a difference is noise: ``max(tolerance, spread_factor × spread)``."""
    return max(tolerance, spread_factor * relative_spread(values))


def judge_speed(
    recorded: RecordedSpeed,
    samples: Sequence[SpeedSample],
    *,
    tolerance: float = TOLERANCE,
    spread_factor: float = SPREAD_FACTOR,
) -> SpeedJudgement:
    """Apply the rule in this module's docstring. Raises ValueError on missing or non-positive numbers."""
    if not samples:
        raise ValueError("at least one new measurement is needed")
    numbers = [
        recorded.candidate_ms,
        recorded.speedup_eager,
        *(x for s in samples for x in (s.candidate_ms, s.eager_ms)),
    ]
    if not all(n > 0 for n in numbers):
        raise ValueError("timings and speedups must be positive")
    times = [s.candidate_ms for s in samples]
    speedups = [s.speedup_eager for s in samples]
    new_ms, new_speedup = statistics.median(times), statistics.median(speedups)
    time_change = new_ms / recorded.candidate_ms - 1
    speedup_change = new_speedup / recorded.speedup_eager - 1
    time_allowance = allowance(times, tolerance, spread_factor)
    speedup_allowance = allowance(speedups, tolerance, spread_factor)
    slower = time_change > time_allowance
    less_speedup = -speedup_change > speedup_allowance

    runs = f"median of {len(samples)} run{'s' if len(samples) != 1 else ''}"
    time_text = (
        f"{new_ms:.4g} ms vs {recorded.candidate_ms:.4g} ms recorded "
        f"({time_change:+.0%}, allowed +{time_allowance:.0%})"
    )
    speedup_text = (
        f"{new_speedup:.2f}x over eager vs {recorded.speedup_eager:.2f}x recorded "
        f"({speedup_change:+.0%}, allowed -{speedup_allowance:.0%})"
    )
    if slower and less_speedup:
        summary = f"slower: {time_text}; {speedup_text} ({runs})"
    elif slower:
        summary = (
            f"speed holds: the kernel took {time_text}, but eager PyTorch slowed down as much "
            f"({speedup_text}): this machine was slower, not the kernel ({runs})"
        )
    elif less_speedup:
        summary = (
            f"speed holds: {speedup_text}, but the kernel's own time held ({time_text}): "
            f"eager PyTorch got faster ({runs})"
        )
    else:
        summary = f"speed holds: {time_text}; {speedup_text} ({runs})"
    return SpeedJudgement(
        regressed=slower and less_speedup,
        summary=summary,
        recorded_ms=recorded.candidate_ms,
        recorded_speedup=recorded.speedup_eager,
        new_ms=new_ms,
        new_speedup=new_speedup,
        time_change=time_change,
        speedup_change=speedup_change,
        time_allowance=time_allowance,
        speedup_allowance=speedup_allowance,
        samples=len(samples),
    )
