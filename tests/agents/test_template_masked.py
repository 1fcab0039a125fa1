"""``masked_fill`` and ``where`` in the template compiler against torch (Triton interpreter), and the
causal-attention group of MinGPT (``matmul+mul+masked_fill`` with ``-inf``) verified end to end.

Tutorial style, as ``test_template_dense``: a tiny module per case, its candidate run on the interpreter
and compared with the module's forward, all cases in one child process (``template_harness``).
"""

from __future__ import annotations

import math

import pytest

from agents.template.templates.common import const_code
from tests.agents.template_harness import matched, plan_here, reference_source, results_fixture, trace_here

CAUSAL = "torch.ones(5, 5).triu(1) > 0"
"""MinGPT's causal mask: True above the diagonal (the positions a token may not attend to)."""

CASES = {
    "attention_scores_causal_minus_inf": (
        "(x @ y.transpose(-2, -1) * 0.5).masked_fill(z, float('-inf'))",
        f"torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4), {CAUSAL}",
    ),
    "masked_softmax_causal": (
        "torch.softmax(x.masked_fill(y, float('-inf')), dim=-1)",
        f"torch.randn(2, 5, 5), {CAUSAL}",
    ),
    "masked_fill_finite_value_then_add": ("x.masked_fill(y, 3.5) + 1.0", "torch.randn(4, 6), torch.rand(4, 6) > 0.5"),
    "masked_fill_broadcast_mask": (
        "torch.relu(x).masked_fill(y, -2.0)",
        "torch.randn(2, 3, 4), torch.rand(3, 1) > 0.5",
    ),
    "where_two_tensors": ("torch.where(z, x, y * 2.0)", "torch.randn(3, 4), torch.randn(3, 4), torch.rand(3, 4) > 0.5"),
}

results = results_fixture(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch(case: str, results: dict) -> None:
    got = matched(results, case)
    assert "ewise" in got["kinds"] or "matmul" in got["kinds"] or "softmax" in got["kinds"], got["describe"]


def test_non_finite_scalars_survive_the_trace_and_the_kernel_text() -> None:
    source = reference_source("x.masked_fill(y, float('-inf'))", f"torch.randn(5, 5), {CAUSAL}")
    (op,) = [op for op in trace_here(source).ops if op["op"] == "aten.masked_fill"]
    assert op["args"][2] == -math.inf  # the worker sends {"float": "-inf"} (strict JSON); the trace reads it back
    assert const_code(-math.inf) == "float('-inf')" and const_code(math.nan) == "float('nan')"
    assert const_code(0.5) == "0.5"
    candidate, _ = plan_here(source).variants("cpu")[0]
    assert "float('-inf')" in candidate


def test_where_on_a_computed_condition() -> None:
    source = reference_source("torch.where(y > 0, x, y)", "torch.randn(3, 4), torch.randn(3, 4)")
    assert "tl.where(" in plan_here(source).variants("cpu")[0][0]


@pytest.mark.slow
def test_minigpt_causal_scores_group_is_verified() -> None:
    """The group ``kiln compile`` cuts from MinGPT's attention (as its ``group_source`` writes it):
    before the lowering it stayed in PyTorch (no_kernel)."""
    from verifier import VerifyOptions, verify

    source = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x0, x1, x2):
        v0 = torch.ops.aten.matmul.default(x0, x1)
        v1 = torch.ops.aten.mul.Tensor(v0, 0.7071067811865475)
        return torch.ops.aten.masked_fill.Scalar(v1, x2, float('-inf'))


def get_inputs():
    return [torch.randn((2, 8, 16, 2)), torch.randn((2, 8, 2, 16)), torch.rand(1, 1, 16, 16) > 0.5]


def get_init_inputs():
    return []
"""
    candidate, _ = plan_here(source).variants("cpu")[0]
    report = verify(source, candidate, VerifyOptions(device="cpu", trials=1))
    assert report.verdict == "accepted", report.reasons
