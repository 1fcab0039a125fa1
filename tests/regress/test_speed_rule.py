"""The noise-aware speed rule on numbers: recorded GPU result vs new measurements."""

from __future__ import annotations

import pytest

from service.regress.speed import (
    SPREAD_FACTOR,
    TOLERANCE,
    RecordedSpeed,
    SpeedSample,
    allowance,
    judge_speed,
    relative_spread,
)

RECORDED = RecordedSpeed(candidate_ms=1.0, speedup_eager=2.0)


def samples(*pairs: tuple[float, float]) -> list[SpeedSample]:
    return [SpeedSample(candidate_ms=c, eager_ms=e) for c, e in pairs]


def test_the_documented_numbers() -> None:
    assert (TOLERANCE, SPREAD_FACTOR) == (0.10, 3.0)


def test_spread_is_the_median_absolute_deviation_over_the_median() -> None:
    assert relative_spread([1.0]) == 0.0
    assert relative_spread([1.0, 1.5, 1.25]) == pytest.approx(0.25 / 1.25)
    assert allowance([1.0]) == TOLERANCE
    assert allowance([1.0, 1.5, 1.25]) == pytest.approx(3 * 0.2)


def test_a_slower_kernel_is_a_regression() -> None:
    j = judge_speed(RECORDED, samples((1.30, 2.00), (1.28, 2.02), (1.33, 1.99)))
    assert j.regressed
    assert j.new_ms == pytest.approx(1.30) and j.time_change == pytest.approx(0.30)
    assert j.new_speedup == pytest.approx(2.00 / 1.30) and j.speedup_change == pytest.approx(2.00 / 1.30 / 2 - 1)
    assert (j.time_allowance, j.speedup_allowance, j.samples) == (TOLERANCE, TOLERANCE, 3)
    assert j.summary == (
        "slower: 1.3 ms vs 1 ms recorded (+30%, allowed +10%); "
        "1.54x over eager vs 2.00x recorded (-23%, allowed -10%) (median of 3 runs)"
    )


def test_changes_within_the_tolerance_hold() -> None:
    j = judge_speed(RECORDED, samples((1.08, 2.0), (1.09, 2.0), (1.07, 2.0)))
    assert not j.regressed and j.summary.startswith("speed holds: 1.08 ms vs 1 ms recorded (+8%")


def test_one_run_allows_ten_percent() -> None:
    assert not judge_speed(RECORDED, samples((1.09, 2.0))).regressed  # +9 %, -8 %
    assert judge_speed(RECORDED, samples((1.12, 2.0))).regressed  # +12 %, -11 %


def test_noisy_measurements_widen_the_allowance() -> None:
    # Median 1.25 ms (+25 %), but the runs spread by 20 %: the allowance is 3 x 20 % = 60 %.
    j = judge_speed(RECORDED, samples((1.0, 2.0), (1.5, 2.0), (1.25, 2.0)))
    assert not j.regressed
    assert j.time_allowance == pytest.approx(0.6)
    # The same median with tight runs is a regression.
    assert judge_speed(RECORDED, samples((1.24, 2.0), (1.25, 2.0), (1.26, 2.0))).regressed


def test_a_slower_machine_is_not_a_slower_kernel() -> None:
    # Candidate +30 %, eager +30 % too: the speedup held, so the machine state changed, not the kernel.
    j = judge_speed(RECORDED, samples((1.30, 2.60), (1.31, 2.61), (1.29, 2.59)))
    assert not j.regressed and j.time_change == pytest.approx(0.30)
    assert "this machine was slower, not the kernel" in j.summary


def test_a_faster_eager_alone_is_not_a_regression() -> None:
    # The kernel's time held; eager PyTorch got 40 % faster (a newer torch): the speedup fell.
    j = judge_speed(RECORDED, samples((1.0, 1.2), (1.01, 1.2), (0.99, 1.2)))
    assert not j.regressed and j.speedup_change == pytest.approx(-0.4)
    assert "eager PyTorch got faster" in j.summary


def test_a_faster_kernel_holds() -> None:
    assert not judge_speed(RECORDED, samples((0.5, 2.0))).regressed


@pytest.mark.parametrize(
    ("recorded", "new"),
    [
        (RECORDED, []),
        (RecordedSpeed(0.0, 2.0), samples((1.0, 2.0))),
        (RecordedSpeed(1.0, -1.0), samples((1.0, 2.0))),
        (RECORDED, samples((0.0, 2.0))),
    ],
)
def test_missing_or_non_positive_numbers_are_refused(recorded: RecordedSpeed, new: list[SpeedSample]) -> None:
    with pytest.raises(ValueError):
        judge_speed(recorded, new)
