"""Pooling with the GPU tuning profiles' settings (a looped first window dim, smaller blocks), against
torch in the Triton interpreter (``template_harness``)."""

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
}


results = results_fixture(CASES, ["small_tiles", "large_tiles"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_pooling_matches_torch(case: str, results: dict) -> None:
    got = matched(results, case)
    assert "pool" in got["kinds"], got["kinds"]
