"""The template compiler's tl.dot precision is explicit: never plain TF32 on float32 operands.

On a GPU, Triton's default float32 dot is TF32 (10 mantissa bits): general.matmul's float32 shape then
fails the element bound and eager float32 matmul would be beaten with lost precision. The CPU
interpreter computes exact float32 whatever the precision, so what is checked here is the emitted
source and the launcher's choice."""

from __future__ import annotations

import re

import pytest
import torch

from agents.template.emit import emit_candidate
from agents.template.model_source import extract_model
from agents.template.recognise import lower_trace
from agents.template.templates.dense import dot_precision
from agents.template.tuning import CPU_PROFILES
from tests.agents.test_recognise import _op, _t, _trace
from verifier.static_screen import screen

MATMUL_REFERENCE = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, a, b):
        return a @ b


def get_inputs():
    return [torch.randn(32, 16), torch.randn(16, 8)]


def get_init_inputs():
    return []
"""


@pytest.mark.parametrize(
    ("a", "b", "precision"),
    [
        (torch.float32, torch.float32, "tf32x3"),
        (torch.float16, torch.float32, "tf32x3"),
        (torch.float64, torch.float64, "tf32x3"),
        (torch.bfloat16, torch.bfloat16, "tf32"),  # exact: bf16/fp16 values are TF32 values
        (torch.float16, torch.bfloat16, "tf32"),
    ],
)
def test_the_launcher_picks_tf32x3_for_float32_operands(a: torch.dtype, b: torch.dtype, precision: str) -> None:
    scope = {"torch": torch, "x": torch.empty(1, dtype=a), "y": torch.empty(1, dtype=b)}
    assert eval(dot_precision("x", "y"), scope) == precision


def test_emitted_matmul_kernel_carries_the_explicit_precision() -> None:
    a, b = _t("input0", [32, 16]), _t("input1", [16, 8])
    program = lower_trace(
        _trace([_op("aten.mm", [a, b], [_t("op0.out0", [32, 8])])], [a, b], {}, _t("op0.out0", [32, 8])), ["a", "b"]
    )
    source = emit_candidate(program, extract_model(MATMUL_REFERENCE), CPU_PROFILES["cpu"], "matmul", "cpu")
    dots = re.findall(r"tl\.dot\(.*\)", source)
    assert dots and all("input_precision=DOT_PRECISION" in d for d in dots), dots
    assert "DOT_PRECISION: tl.constexpr" in source
    assert re.search(r'= "tf32" if \w+\.dtype in \(torch\.float16, torch\.bfloat16\).* else "tf32x3"', source)
    assert "DOT_PRECISION=n" in source  # the launcher passes its choice
    assert screen(source) == []


@pytest.mark.parametrize(("a", "b"), [(torch.float32, torch.float32), (torch.bfloat16, torch.bfloat16)])
def test_a_convolution_takes_the_eager_baselines_precision(a: torch.dtype, b: torch.dtype) -> None:
    """cuDNN's float32 convolutions run TF32 in the pinned baseline (verifier.precision): a conv
    template's float32 dot is plain TF32 too, not three TF32 products against one."""
    from verifier.precision import BASELINE, fp32_dot_precision

    scope = {"torch": torch, "x": torch.empty(1, dtype=a), "y": torch.empty(1, dtype=b)}
    expected = "tf32" if a is torch.bfloat16 else fp32_dot_precision("conv")
    assert eval(dot_precision("x", "y", "conv"), scope) == expected
    assert BASELINE["conv"] and expected == "tf32"
