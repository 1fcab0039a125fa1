"""Speedups with a spread, the plausibility flag and fast_p on lower bounds (pure functions, no GPU)."""

from __future__ import annotations

import random

import pytest

from verifier.engine import _timing
from verifier.report import Report, Timing, fast_p
from verifier.speedup import implausible, is_fast, median_bounds, rounds_spread, speedup_interval


def test_median_bounds_are_the_binomial_order_statistics() -> None:
    xs = [float(x) for x in range(1, 101)]
    random.Random(1).shuffle(xs)
    assert median_bounds(xs) == (40.0, 61.0)  # 100 samples at 95 %: the 40th and 61st smallest
    assert median_bounds([3.0, 1.0, 2.0]) == (1.0, 3.0)  # too few for 95 %: the whole range
    with pytest.raises(ValueError):
        median_bounds([])


def test_median_bounds_cover_the_true_median_about_95_percent_of_the_time() -> None:
    rng = random.Random(7)
    trials, covered = 2000, 0
    for _ in range(trials):
        lo, hi = median_bounds([rng.expovariate(1.0) for _ in range(100)])
        covered += lo <= 0.6931471805599453 <= hi  # median of Exp(1) = ln 2
    assert 0.93 <= covered / trials <= 0.98


def test_speedup_interval_brackets_the_ratio_and_widens_with_noise() -> None:
    rng = random.Random(3)
    eager = [2.0 + rng.gauss(0, 0.01) for _ in range(100)]
    steady = [1.0 + rng.gauss(0, 0.01) for _ in range(100)]
    noisy = [1.0 + abs(rng.gauss(0, 0.3)) for _ in range(100)]
    a, b = speedup_interval(eager, steady), speedup_interval(eager, noisy)
    assert a.low <= a.speedup <= a.high and b.low <= b.speedup <= b.high
    assert a.speedup == pytest.approx(2.0, rel=0.02)
    assert (b.high - b.low) > 5 * (a.high - a.low)
    assert a.samples == (100, 100)


def test_rounds_spread() -> None:
    assert rounds_spread([2.0]) is None
    assert rounds_spread([1.8, 2.0, 2.2]) == pytest.approx(
        {"rounds": 3, "median": 2.0, "min": 1.8, "max": 2.2, "spread": 0.2}
    )


def test_implausible_figures_are_flagged() -> None:
    assert implausible(9.9) is None and implausible(3.0, 0.8) is None and implausible(None) is None
    assert "above 10x" in (implausible(10.5) or "")
    assert "above 100%" in (implausible(2.0, 1.3) or "")


def _report(speedup: float, low: float | None, recheck: str | None = None) -> Report:
    timing = Timing("H100", 1.0, speedup, None, speedup, None, 100, 10, "events", speedup_low=low, recheck=recheck)
    return Report(verdict="accepted", timing=timing)


def test_fast_p_counts_a_task_only_when_the_lower_bound_exceeds_p() -> None:
    reports = [_report(2.0, 1.4), _report(1.6, 1.55), _report(12.0, 11.0, recheck="over 10x")]
    assert fast_p(reports, 0) == 1.0
    assert fast_p(reports, 1.0) == pytest.approx(2 / 3)  # the flagged 12x waits for its re-check
    assert fast_p(reports, 1.5) == pytest.approx(1 / 3)  # 2.0x measured, but it may be 1.4x
    assert is_fast(None, 1.0) is False and is_fast(None, 0) is True


def test_the_reports_timing_carries_bounds_clock_precision_and_the_flag() -> None:
    rng = random.Random(5)
    candidate = {
        "candidate_ms": 0.5,
        "times_ms": [0.5 + rng.gauss(0, 0.005) for _ in range(100)],
        "runs": 100,
        "warmup_runs": 10,
        "method": "events",
        "device_name": "H200",
        "sm_clock_mhz": {"before": 1980, "after": 1980},
    }
    reference = {
        "eager_ms": 1.4,
        "times_ms": [1.4] * 100,
        "fp32_precision": {"matmul_fp32": "ieee", "conv_fp32": "tf32"},
    }
    eager_now = {
        "eager_ms": 1.0,
        "times_ms": [1.0 + rng.gauss(0, 0.005) for _ in range(100)],
        "sm_clock_mhz": {"before": 1755},
    }
    t = _timing(candidate, reference, wall_ms=0.6, eager_now=eager_now)
    assert t.eager_ms == 1.0 and t.eager_prepare_ms == 1.4  # the re-timed baseline wins
    assert t.speedup_low is not None and t.speedup_high is not None
    assert t.speedup_low < t.speedup_eager < t.speedup_high and t.speedup_low > 1.9
    assert t.recheck is None
    assert t.sm_clock_mhz == {"candidate": {"before": 1980, "after": 1980}, "eager": {"before": 1755}}
    assert t.fp32_precision["conv_fp32"] == "tf32"
    fast = _timing({**candidate, "candidate_ms": 0.1, "times_ms": [0.1] * 100}, reference, None, eager_now=eager_now)
    assert fast.speedup_eager == pytest.approx(10.0) and fast.recheck is None
    faster = _timing(
        {**candidate, "candidate_ms": 0.05, "times_ms": [0.05] * 100}, reference, None, eager_now=eager_now
    )
    assert faster.recheck and "above 10x" in faster.recheck
    legacy = _timing({"candidate_ms": 0.5}, {"eager_ms": 1.0}, None, eager_now_ms=1.5)
    assert legacy.speedup_eager == 3.0 and legacy.speedup_low is None  # no samples: no bounds claimed
