"""The template compiler's FFT path for long convolutions, verified on CPU (Triton interpreter).

Each test emits a candidate with the CPU profile's settings changed so that one path is forced,
and breaks the other path's kernel in the source, so a test cannot pass through the wrong path.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import pytest

import tasks
from agents.template import TemplatePlan, plan_template
from agents.template.emit import emit_candidate
from agents.template.templates.fft import fft_passes
from agents.template.tuning import CPU_PROFILES
from verifier import Candidate, Reference, VerifyOptions, verify

OPTIONS = VerifyOptions(device="cpu", trials=1, calls_per_trial=1, timeout_s=180)

DIRECT_SUM = "acc += tl.sum(xv.to(tl.float32) * wv.to(tl.float32)[None, :], axis=1)"
FORWARD_TWIDDLE = "wi = -tl.sin(ang)"

SAME_PADDED_GELU = """
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 2
CHANNELS = 3
SEQ_LEN = 100
KERNEL_SIZE = 129
DTYPE = "float32"


class Model(nn.Module):
    def __init__(self, channels, kernel_size, dtype):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels, dtype=dtype)

    def forward(self, x):
        return F.gelu(self.conv(x))


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, SEQ_LEN, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return [CHANNELS, KERNEL_SIZE, getattr(torch, DTYPE)]
"""


@functools.cache
def _plan(task_id: str) -> TemplatePlan:
    return plan_template(tasks.get(task_id).reference(tier="small"), OPTIONS)


def _source(plan: TemplatePlan, **fft: Any) -> str:
    profile = copy.deepcopy(CPU_PROFILES["cpu"])
    profile["dwconv1d"].update(fft)
    return emit_candidate(plan.program, plan.model, profile, "fft test", "cpu")


def _break(source: str, line: str, broken: str) -> str:
    assert source.count(line) == 1, line
    return source.replace(line, broken)


def _fft_only(source: str) -> str:
    """The direct kernel subtracts instead of adds: only the FFT path can give the right values."""
    return _break(source, DIRECT_SUM, DIRECT_SUM.replace("acc +=", "acc -="))


def _wrong_twiddle(source: str) -> str:
    """The forward FFT's twiddles with the inverse's sign."""
    return _break(source, FORWARD_TWIDDLE, "wi = tl.sin(ang)")


def _verify(reference: Reference, source: str) -> Any:
    report = verify(reference, Candidate(source), OPTIONS)
    assert report.verdict in ("accepted", "rejected"), report.reasons
    return report


@pytest.mark.parametrize("task_id", ["fftconv.long_conv", "fftconv.gated_long_conv"])
def test_fft_path_is_accepted(task_id: str) -> None:
    # The small tier: L = 128, L = 300 (not a power of two: N = 1024) and bfloat16 L = 256.
    reference = tasks.get(task_id).reference(tier="small")
    source = _fft_only(_source(_plan(task_id), fft_min_taps=1))
    report = _verify(reference, source)
    assert report.verdict == "accepted", report.reasons
    assert set(report.shapes) == {"tiny", "odd", "tiny_bf16"}
    assert "torch.fft" not in source


@pytest.mark.parametrize(
    ("block", "stages", "passes"),
    [
        # 256 elements a program, up to 4 stages a launch: 3 + 3 stages over strided columns (the
        # second launch's programs span two chunks), then a 4-stage tail.
        (256, 4, [(10, 3, 5), (7, 3, 5), (4, 4, 4)]),
        # one launch per butterfly stage (the GPU profile that needs no in-program barrier).
        (512, 1, [(s, 1, 8) for s in range(10, 0, -1)]),
    ],
)
def test_multi_launch_fft_is_accepted(block: int, stages: int, passes: list[tuple[int, int, int]]) -> None:
    # The odd shape: L = 300, N = 1024.
    assert fft_passes(10, block.bit_length() - 1, stages) == passes
    reference = tasks.get("fftconv.gated_long_conv").reference(shapes=["odd"])
    source = _source(_plan("fftconv.gated_long_conv"), fft_min_taps=1, fft_block=block, fft_stages=stages)
    assert _verify(reference, _fft_only(source)).verdict == "accepted"


def test_direct_path_still_serves_short_kernels() -> None:
    # Above every kernel length the FFT is never taken: the broken FFT kernel must not matter.
    reference = tasks.get("fftconv.long_conv").reference(shapes=["tiny", "odd"])
    source = _wrong_twiddle(_source(_plan("fftconv.long_conv"), fft_min_taps=1 << 30))
    assert _verify(reference, source).verdict == "accepted"


def test_wrong_twiddle_sign_is_rejected() -> None:
    reference = tasks.get("fftconv.long_conv").reference(shapes=["tiny"])
    source = _fft_only(_wrong_twiddle(_source(_plan("fftconv.long_conv"), fft_min_taps=1)))
    report = _verify(reference, source)
    assert report.verdict == "rejected"
    assert any(c.name == "values" and not c.passed for c in report.checks)


def test_fft_serves_same_padding_longer_than_the_input() -> None:
    # A generic depthwise conv1d: 'same' padding (output index offset K - 1 - pad), bias, GELU
    # epilogue, kernels longer than the sequence.
    reference = Reference(
        source=SAME_PADDED_GELU,
        name="dwconv1d_same_gelu",
        shapes={"k129": {}, "k201": {"BATCH": 1, "SEQ_LEN": 77, "KERNEL_SIZE": 201}},
    )
    source = _fft_only(_source(plan_template(reference, OPTIONS), fft_min_taps=1))
    assert _verify(reference, source).verdict == "accepted"


@pytest.mark.parametrize("log_block", [1, 5, 6, 10, 12, 13])
@pytest.mark.parametrize("max_stages", [1, 2, 11, 13])
def test_fft_passes_cover_every_stage_once(log_block: int, max_stages: int) -> None:
    for log_n in range(1, 22):
        spans: list[int] = []
        for s, k, g in fft_passes(log_n, log_block, max_stages):
            assert 1 <= k <= max_stages and g >= 0 and s - k >= 0
            assert k + g == min(log_block, log_n)  # elements a program
            spans += range(s - 1, s - k - 1, -1)
        assert spans == list(range(log_n - 1, -1, -1))  # decimation in frequency order
