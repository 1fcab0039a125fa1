"""Row kernels (softmax, layer norm): short rows several to a program, long rows looped (online
softmax, Welford statistics), against torch in the Triton interpreter (``template_harness``)."""

from __future__ import annotations

import pytest

from agents.template.templates.rows import ROW_ELEMENTS
from tests.agents.template_harness import matched, results_fixture

LONG = ROW_ELEMENTS + 905  # past the whole-row tile: the looped kernels, a partial last chunk
CASES = {
    "softmax_long_rows": ("torch.softmax(x, dim=-1)", f"torch.randn(3, {LONG}) * 4"),
    "softmax_many_short_rows": ("torch.softmax(x, dim=-1)", "torch.randn(37, 3, 9)"),
    "layer_norm_long_rows_far_from_zero": (
        "self.norm(x)",
        f"torch.randn(2, {LONG}) * 2 + 100.0",
        f"        self.norm = nn.LayerNorm({LONG})",
    ),
    "layer_norm_short_rows_affine": (
        "self.norm(x)",
        "torch.randn(11, 5, 24)",
        "        self.norm = nn.LayerNorm(24)\n        nn.init.normal_(self.norm.weight)\n"
        "        nn.init.normal_(self.norm.bias)",
    ),
    "layer_norm_long_rows_no_affine": (
        "F.layer_norm(x, (x.shape[-1],))",
        f"torch.randn(2, {2 * ROW_ELEMENTS + 1})",
    ),
}


results = results_fixture(CASES, [None, "medium_tiles"], ["cpu", "medium_tiles"])


@pytest.mark.parametrize("case", sorted(CASES))
def test_row_kernels_match_torch(case: str, results: dict) -> None:
    got = matched(results, case)
    assert {"softmax", "layernorm"} & set(got["kinds"]), got["kinds"]
