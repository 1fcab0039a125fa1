"""Speedups with a spread, and when a figure is too good to publish unchecked (pure functions).

A speedup is a ratio of two medians of noisy samples (the eager baseline's and the candidate's
per-call times, taken seconds apart in separate processes). :func:`speedup_interval` bounds it
without assuming a distribution: each median's confidence interval comes from order statistics
(the binomial rule: for 100 samples at 95 %, the 40th and 61st smallest), and the speedup's interval
takes the extremes (eager low over candidate high, eager high over candidate low), so it is
conservative. ``fast_p`` counts a task only when the lower bound exceeds p.

A figure is *implausible* (kept out of fast_p until re-checked) when the speedup over eager is over
``PLAUSIBLE_SPEEDUP`` or the roofline share is over 100 %: either is more often a timing or
correctness hole than a kernel.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

PLAUSIBLE_SPEEDUP = 10.0
PLAUSIBLE_ROOFLINE_SHARE = 1.0
CONFIDENCE = 0.95


@dataclass(frozen=True)
class SpeedupInterval:
    speedup: float
    """Eager median over candidate median."""
    low: float
    high: float
    confidence: float
    samples: tuple[int, int]
    """How many eager and candidate samples the bounds rest on."""


def median_bounds(samples: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """A distribution-free confidence interval for the median of ``samples`` (order statistics).

    With fewer than 6 samples no order statistic reaches 95 %: the interval is then the full range."""
    xs = sorted(samples)
    n = len(xs)
    if n == 0:
        raise ValueError("no samples")
    alpha = 1.0 - confidence
    # largest k with P(Binomial(n, 1/2) <= k - 1) <= alpha / 2: the interval is [x_(k), x_(n-k+1)]
    k, tail = 0, 0.0
    while k < n // 2:
        nxt = tail + math.comb(n, k) / 2.0**n
        if nxt > alpha / 2:
            break
        tail, k = nxt, k + 1
    if k == 0:
        return xs[0], xs[-1]
    return xs[k - 1], xs[n - k]


def speedup_interval(
    eager_ms: Sequence[float], candidate_ms: Sequence[float], confidence: float = CONFIDENCE
) -> SpeedupInterval:
    """Eager over candidate, with conservative bounds from each median's interval."""
    e_lo, e_hi = median_bounds(eager_ms, confidence)
    c_lo, c_hi = median_bounds(candidate_ms, confidence)
    e_med, c_med = statistics.median(eager_ms), statistics.median(candidate_ms)
    if min(c_lo, c_med) <= 0:
        raise ValueError("a candidate time of zero or less")
    return SpeedupInterval(
        speedup=e_med / c_med,
        low=e_lo / c_hi,
        high=e_hi / c_lo,
        confidence=confidence,
        samples=(len(eager_ms), len(candidate_ms)),
    )


def rounds_spread(ratios: Sequence[float]) -> dict[str, float] | None:
    """Speedups measured in repeated (interleaved) rounds: median, min, max and (max - min) / median;
    None with fewer than two rounds."""
    if len(ratios) < 2:
        return None
    med = statistics.median(ratios)
    return {
        "rounds": len(ratios),
        "median": med,
        "min": min(ratios),
        "max": max(ratios),
        "spread": (max(ratios) - min(ratios)) / med,
    }


def implausible(speedup: float | None, roofline_share: float | None = None) -> str | None:
    """Why a measured figure needs a re-check before it is published or counted, or None."""
    if speedup is not None and speedup > PLAUSIBLE_SPEEDUP:
        return f"speedup {speedup:.1f}x over eager is above {PLAUSIBLE_SPEEDUP:.0f}x: re-check before publishing"
    if roofline_share is not None and roofline_share > PLAUSIBLE_ROOFLINE_SHARE:
        return f"roofline share {roofline_share:.0%} is above 100%: faster than the hardware allows; re-check"
    return None


def is_fast(low: float | None, p: float, flagged: str | None = None) -> bool:
    """fast_p's rule for one accepted, GPU-timed task: the speedup's lower bound above ``p`` and no
    plausibility flag (p = 0 counts correctness alone)."""
    if p == 0:
        return True
    return low is not None and flagged is None and low > p
