"""The trusted comparison: catches local and systematic errors, names where and by how much."""

from __future__ import annotations

import torch

from verifier.spec import Tolerance
from verifier.tolerance import DEFAULT_TOLERANCES, compare, tolerance_for

F32 = DEFAULT_TOLERANCES["float32"]


def test_rounding_level_differences_pass() -> None:
    ref = torch.randn(64, 64)
    assert compare(ref + 1e-6 * torch.randn(64, 64), ref, F32).passed


def test_one_bad_element_is_located() -> None:
    ref = torch.randn(4, 5)
    cand = ref.clone()
    cand[2, 3] += 1.0
    result = compare(cand, ref, F32)
    assert not result.passed
    assert "1 of 20 elements" in result.detail and "[2, 3]" in result.detail


def test_systematic_error_inside_the_element_bound_fails_the_norm_bound() -> None:
    ref = torch.randn(256, 256)
    cand = ref * (1 + 5e-3)  # within atol=rtol=1e-2 everywhere, but 5e-3 relative L2 error
    result = compare(cand, ref, F32)
    assert not result.passed
    assert "relative L2 error" in result.detail and "exceed atol" not in result.detail


def test_nan_where_the_reference_is_finite_fails() -> None:
    ref = torch.ones(10)
    cand = ref.clone()
    cand[7] = float("nan")
    result = compare(cand, ref, F32)
    assert not result.passed and "non-finite" in result.detail and "[7]" in result.detail


def test_matching_nan_and_inf_pass_but_mismatching_ones_fail() -> None:
    ref = torch.tensor([1.0, float("nan"), float("inf"), -2.0])
    assert compare(ref.clone(), ref, F32).passed
    wrong = ref.clone()
    wrong[2] = 5.0
    assert "NaN/inf" in compare(wrong, ref, F32).detail


def test_integers_must_match_exactly() -> None:
    ref = torch.arange(10)
    cand = ref.clone()
    cand[4] = 5
    result = compare(cand, ref, tolerance_for(torch.int64, {}))
    assert not result.passed and "1 of 10" in result.detail


def test_task_overrides_take_precedence() -> None:
    tight = {"float32": Tolerance(1e-6, 1e-6, 1e-7)}
    ref = torch.randn(100)
    assert compare(ref + 1e-4, ref, F32).passed
    assert not compare(ref + 1e-4, ref, tolerance_for(torch.float32, tight)).passed


def test_bfloat16_bound_admits_bf16_rounding() -> None:
    ref64 = torch.randn(1000, dtype=torch.float64)
    ref = ref64.to(torch.bfloat16)
    cand = (ref64 * (1 + 1e-3)).to(torch.bfloat16)
    assert compare(cand, ref, tolerance_for(torch.bfloat16, {})).passed
