"""Pooling with the GPU tuning profiles' settings (a looped first window dim, smaller blocks), against
torch in the Triton interpreter (``template_harness``), and the traffic of max pooling 1D (one span of
the input a row of outputs, the taps gathered from it)."""

from __future__ import annotations

import pytest

from tests.agents.template_harness import matched, results_fixture

CASES = {
    "avg_pool3d_padded_strided": (
        "F.avg_pool3d(x, 3, 2, 1) + F.avg_pool3d(x, 3, 2, 1, count_include_pad=False)",
        "torch.randn(2, 3, 7, 6, 9)",
    ),
    "max_pool3d_dilated_ceil": (
        "F.max_pool3d(x, 2, 2, 1, dilation=(2, 1, 2), ceil_mode=True)",
        "torch.randn(1, 2, 9, 8, 7)",
    ),
    "max_pool2d": ("F.max_pool2d(x, 3, 2, 1)", "torch.randn(2, 3, 11, 10)"),
    "max_pool1d_dilated_padded": ("F.max_pool1d(x, 8, 1, 4, dilation=3)", "torch.randn(2, 3, 300)"),
    "avg_pool1d_strided_ceil": (
        "F.avg_pool1d(x, 5, 3, 2, ceil_mode=True) + F.avg_pool1d(x, 5, 3, 2, count_include_pad=False)",
        "torch.randn(2, 3, 61)",
    ),
    "avg_pool2d_window_is_stride": ("F.avg_pool2d(x, 11)", "torch.randn(1, 2, 32, 30)"),
}


results = results_fixture(CASES, ["small_tiles", "large_tiles"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_pooling_matches_torch(case: str, results: dict) -> None:
    got = matched(results, case)
    assert "pool" in got["kinds"], got["kinds"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "body, inputs",
    [
        ("F.max_pool1d(x, 8, 1, 4, dilation=3)", "torch.rand(2, 8, 2048)"),
        ("F.max_pool2d(x, 4, 1, 1)", "torch.rand(2, 8, 32, 32)"),
    ],
)
def test_max_pooling_requests_each_input_element_once(body: str, inputs: str) -> None:
    """KernelBench's 41_Max_Pooling_1D and 42_Max_Pooling_2D at their small shapes with the default GPU
    profile, verified on the CPU: 4.48x and 7.98x the compulsory bytes when every tap was its own load,
    1.04x and 1.15x with one input block a tile of outputs; coalesced; no spill in the sm_90 build."""
    from tests.agents.template_harness import default_gpu_profile_summary, reference_source
    from verifier import Reference

    summary = default_gpu_profile_summary(Reference(source=reference_source(body, inputs), name="max_pool"))
    assert summary["traffic_ratio"] <= 1.3, summary
    assert summary["sector_efficiency"] >= 0.85, summary
    assert summary["spill_bytes"] == 0, summary
