"""The convolution template (direct and transposed, 1-3 spatial dims, fused epilogue) against torch.

Each case is a tiny module; its candidate runs on the Triton interpreter and is compared with the
module's own forward (``template_harness``: every case of this module in one child process). Shapes
are chosen so that both reduction orders of ``conv_tile`` run: taps folded into the reduction (few
channels per group) and a tap at a time (16 or more).
"""

from __future__ import annotations

import ast

import pytest

from agents.template.templates import conv
from tests.agents.template_harness import matched, plan_here, reference_source, results_fixture

CASES = {
    "conv2d_folded_taps_relu_epilogue": (
        "torch.relu(self.conv(x) * 0.5 + 1.0)",
        "torch.randn(2, 3, 9, 8)",
        "        self.conv = nn.Conv2d(3, 5, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(2, 1))",
    ),
    "conv2d_tap_at_a_time": (
        "self.conv(x)",
        "torch.randn(1, 17, 6, 5)",
        "        self.conv = nn.Conv2d(17, 4, 3, padding=1)",
    ),
    "conv2d_even_kernel_half_padding": (
        # padding K // 2 with an even K: the output is one longer than the input, not 'same'
        "self.conv(x)",
        "torch.randn(1, 4, 7, 6)",
        "        self.conv = nn.Conv2d(4, 4, 4, padding=2, groups=4)",
    ),
    "conv1d_transposed_strided_padded_dilated": (
        "self.conv(x)",
        "torch.randn(2, 4, 7)",
        "        self.conv = nn.ConvTranspose1d(4, 3, 3, stride=2, padding=1, output_padding=1, dilation=2)",
    ),
    "conv2d_transposed_grouped_bias_epilogue": (
        "torch.tanh(self.conv(x)) - 0.25",
        "torch.randn(2, 4, 5, 4)",
        "        self.conv = nn.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0), groups=2)",
    ),
    "conv2d_transposed_many_channels": (
        "self.conv(x)",
        "torch.randn(1, 16, 4, 3)",
        "        self.conv = nn.ConvTranspose2d(16, 3, 3, stride=2, padding=1, bias=False)",
    ),
    "conv2d_transposed_gelu_then_group_norm": (
        # the GELU is fused into the convolution; group norm's view back names the fused node
        "self.norm(F.gelu(self.conv(x)))",
        "torch.randn(2, 3, 4, 4)",
        "        self.conv = nn.ConvTranspose2d(3, 4, 3, stride=2)\n        self.norm = nn.GroupNorm(2, 4)",
    ),
    "conv3d_transposed": (
        "self.conv(x)",
        "torch.randn(1, 2, 3, 4, 3)",
        "        self.conv = nn.ConvTranspose3d(2, 3, (2, 3, 2), stride=(2, 1, 2), padding=(0, 1, 1))",
    ),
}


results = results_fixture(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_convolution_matches_torch(case: str, results: dict) -> None:
    got = matched(results, case)
    assert "conv" in got["kinds"] or "dwconv" in got["kinds"]
    if "epilogue" in case:
        assert got["kinds"] == ["conv"], got["describe"]  # the pointwise tail is fused into the convolution


def test_tile_is_real_source_emitted_once() -> None:
    """The fixed body is a real function: its emitted text parses and is the module's own source."""
    tree = ast.parse(conv.TILE_SOURCE)
    assert [f.name for f in tree.body if isinstance(f, ast.FunctionDef)] == ["_conv_taps", "conv_tile"]
    init = "        self.a = nn.Conv1d(2, 2, 3)\n        self.b = nn.ConvTranspose1d(2, 2, 3)"
    candidate, _ = plan_here(reference_source("self.b(self.a(x))", "torch.randn(1, 2, 5)", init)).variants("cpu")[0]
    assert candidate.count("def conv_tile(") == 1
