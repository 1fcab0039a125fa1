"""The template compiler's FFT path for long convolutions, verified on CPU (Triton interpreter).

Each test emits a candidate with the CPU profile's settings changed so that one path is forced,
and breaks the other path's kernel in the source, so a test cannot pass through the wrong path.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from typing import Any

import pytest

import tasks
from agents.template import TemplatePlan, plan_template
from agents.template.emit import emit_candidate
from agents.template.templates.fft import fft_passes
from agents.template.templates.fft_fused import HELPERS, MAX_N, fused_warps
from agents.template.tuning import CPU_PROFILES, GPU_PROFILES
from verifier import Candidate, Reference, VerifyOptions, verify
from verifier.plan.gpu_build import compile_for_gpu, jit_helpers

OPTIONS = VerifyOptions(device="cpu", trials=1, calls_per_trial=1, timeout_s=180)

DIRECT_SUM = "acc += tl.sum(xv.to(tl.float32) * wv.to(tl.float32)[None, :], axis=1)"
FORWARD_TWIDDLE = "wi = -tl.sin(ang)"
FUSED_FORWARD_TWIDDLE = "_twiddles(s, LOG_N, -1.0)"
FUSED_SCALE = "acc0 = zr * scale"  # the fused kernel's first row (the multi-pass kernel's is acc1)
PASSES_SCALE = "acc1 = xr * scale"

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


def _break_all(source: str, line: str, broken: str) -> str:
    assert source.count(line) >= 1, line
    return source.replace(line, broken)


def _fused_only(source: str) -> str:
    """The multi-pass FFT kernel's outputs doubled: only the fused kernel can give the right values."""
    return _break_all(source, PASSES_SCALE, PASSES_SCALE + " * 2.0")


def _passes_only(source: str) -> str:
    """The fused FFT kernel's outputs doubled: only the multi-pass kernel can give the right values."""
    return _break_all(source, FUSED_SCALE, FUSED_SCALE + " * 2.0")


def _fft_only(source: str) -> str:
    """The direct kernel subtracts instead of adds: only the FFT path can give the right values."""
    return _break(source, DIRECT_SUM, DIRECT_SUM.replace("acc +=", "acc -="))


def _wrong_twiddle(source: str) -> str:
    """The forward FFTs' twiddles with the inverse's sign, in both FFT kernels."""
    source = _break(source, FORWARD_TWIDDLE, "wi = tl.sin(ang)")
    return _break(source, FUSED_FORWARD_TWIDDLE, FUSED_FORWARD_TWIDDLE.replace("-1.0", "1.0"))


def _verify(reference: Reference, source: str) -> Any:
    report = verify(reference, Candidate(source), OPTIONS)
    assert report.verdict in ("accepted", "rejected"), report.reasons
    return report


@pytest.mark.parametrize("task_id", ["fftconv.long_conv", "fftconv.gated_long_conv"])
def test_fft_path_is_accepted(task_id: str) -> None:
    # The small tier: L = 128, L = 300 (not a power of two: N = 1024) and bfloat16 L = 256; every
    # row fits the CPU profile's fft_block, so the fused kernel serves them (two batch rows a program
    # at B = 2, one at B = 1).
    reference = tasks.get(task_id).reference(tier="small")
    source = _fused_only(_fft_only(_source(_plan(task_id), fft_min_taps=1)))
    report = _verify(reference, source)
    assert report.verdict == "accepted", report.reasons
    assert set(report.shapes) == {"tiny", "odd", "tiny_bf16"}
    assert "torch.fft" not in source
    # One kernel: the gated form's pregate * u is computed where the kernel reads its input, and the
    # epilogue's D * u (D * pregate * u) reuses the rows the kernel loaded: each tensor read once.
    assert "_ewise" not in source
    assert report.static_profile["summary"]["traffic_ratio"] < 1.05


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
    assert _verify(reference, _passes_only(_fft_only(source))).verdict == "accepted"


def test_multi_pass_packs_two_batch_rows() -> None:
    # tiny (B = 2, N = 256) on the multi-pass kernel (128 values a program: a 1-stage and a 7-stage
    # launch a transform): both batch rows in one buffer row, each launch's block read and written
    # once, the gate computed on load. Counted, 5.9x the compulsory bytes (36x before).
    reference = tasks.get("fftconv.gated_long_conv").reference(shapes=["tiny"])
    source = _source(_plan("fftconv.gated_long_conv"), fft_min_taps=1, fft_block=128, fft_stages=11)
    report = _verify(reference, _passes_only(_fft_only(source)))
    assert report.verdict == "accepted", report.reasons
    assert report.static_profile["summary"]["traffic_ratio"] < 6.5


def test_fft_fused_sets_the_fused_kernel_apart_from_the_block() -> None:
    # small_tiles fuses transforms up to 4,096 with passes of 2,048 values beyond: here 256 and 128.
    reference = tasks.get("fftconv.long_conv").reference(shapes=["tiny"])
    source = _source(_plan("fftconv.long_conv"), fft_min_taps=1, fft_block=128, fft_fused=256)
    assert _verify(reference, _fused_only(_fft_only(source))).verdict == "accepted"


@pytest.mark.parametrize("task_id", ["fftconv.long_conv", "fftconv.gated_long_conv"])
def test_direct_path_still_serves_short_kernels(task_id: str) -> None:
    # Above every kernel length the FFT is never taken: the broken FFT kernels must not matter (the
    # gated form: the direct sum evaluates pregate * u where it reads its input).
    reference = tasks.get(task_id).reference(shapes=["tiny", "odd"])
    source = _wrong_twiddle(_source(_plan(task_id), fft_min_taps=1 << 30))
    assert _verify(reference, source).verdict == "accepted"


@pytest.mark.parametrize("block", [4096, 128])  # the fused kernel (N = 256), the multi-pass one
def test_wrong_twiddle_sign_is_rejected(block: int) -> None:
    reference = tasks.get("fftconv.long_conv").reference(shapes=["tiny"])
    source = _fft_only(_wrong_twiddle(_source(_plan("fftconv.long_conv"), fft_min_taps=1, fft_block=block)))
    report = _verify(reference, source)
    assert report.verdict == "rejected"
    assert any(c.name == "values" and not c.passed for c in report.checks)


@pytest.mark.parametrize("block", [4096, 64])  # the fused kernel, the multi-pass one
def test_fft_serves_same_padding_longer_than_the_input(block: int) -> None:
    # A generic depthwise conv1d: 'same' padding (output index offset K - 1 - pad), bias, GELU
    # epilogue, kernels longer than the sequence.
    reference = Reference(
        source=SAME_PADDED_GELU,
        name="dwconv1d_same_gelu",
        # an odd batch: the last row pair (a fused program, a multi-pass buffer row) holds one row
        shapes={"k129": {"BATCH": 3}, "k201": {"BATCH": 1, "SEQ_LEN": 77, "KERNEL_SIZE": 201}},
    )
    source = _fft_only(_source(plan_template(reference, OPTIONS), fft_min_taps=1, fft_block=block))
    source = _fused_only(source) if block == 4096 else _passes_only(source)
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


FFT_CHECK = """
import json
import sys

import torch
import triton
import triton.language as tl

{helpers}


@triton.jit
def transform(xr_ptr, xi_ptr, yr_ptr, yi_ptr, LOG_N: tl.constexpr, INVERSE: tl.constexpr):
    n = tl.arange(0, 1 << LOG_N)
    re = tl.load(xr_ptr + n)
    im = tl.load(xi_ptr + n)
    for s in tl.static_range(LOG_N):
        if INVERSE:
            wr, wi = k_twiddles(LOG_N - 1 - s, LOG_N, 1.0)
            re, im = k_inverse_stage(re, im, wr, wi, LOG_N)
        else:
            wr, wi = k_twiddles(s, LOG_N, -1.0)
            re, im = k_forward_stage(re, im, wr, wi, LOG_N)
    tl.store(yr_ptr + n, re)
    tl.store(yi_ptr + n, im)


def run(x, log_n, inverse):
    yr, yi = torch.empty(x.shape[0]), torch.empty(x.shape[0])
    transform[(1,)](x.real.float().contiguous(), x.imag.float().contiguous(), yr, yi, LOG_N=log_n, INVERSE=inverse)
    return torch.complex(yr, yi).to(torch.complex128)


errors = {{}}
for log_n in map(int, sys.argv[1:]):
    torch.manual_seed(log_n)
    x = torch.randn(1 << log_n, dtype=torch.complex128)
    rev = torch.tensor([int(format(i, f"0{{log_n}}b")[::-1], 2) for i in range(1 << log_n)])
    spectrum = run(x, log_n, False)
    forward = (spectrum - torch.fft.fft(x)[rev]).abs().max() / x.abs().sum()
    back = (run(spectrum, log_n, True) / (1 << log_n) - x).abs().max() / x.abs().max()
    errors[log_n] = [float(forward), float(back)]
print(json.dumps(errors))
"""


def test_fused_fft_stages_match_torch_fft(tmp_path: Any) -> None:
    # The forward stages give the DFT in bit-reversed order; the inverse stages undo them (times N).
    script = tmp_path / "fft_check.py"
    script.write_text(FFT_CHECK.format(helpers=HELPERS.replace("{kn}", "k")))
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    sizes = ["1", "2", "5", "8", "11"]
    run = subprocess.run([sys.executable, str(script), *sizes], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    errors = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(errors) == sorted(sizes)
    for log_n, (forward, back) in errors.items():
        assert forward < 1e-6 and back < 2e-6, (log_n, forward, back)


@pytest.mark.slow
def test_fused_kernel_builds_for_sm90_without_spills(tmp_path: Any) -> None:
    # The gated convolution's fused kernel (its prologue, epilogue and the held rows: the most it
    # holds) at every transform length it takes (256 .. MAX_N), at the warps it launches with.
    path = tmp_path / "gated.py"
    path.write_text(_source(_plan("fftconv.gated_long_conv"), fft_min_taps=1))
    spec = importlib.util.spec_from_file_location("gated", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (name,) = [n for n in vars(module) if n.endswith("_fft_fused")]
    stem = name.removesuffix("fused")
    helpers = jit_helpers({stem + n: getattr(module, stem + n) for n in ("twiddles", "forward_stage", "inverse_stage")})
    consts = {"LOG_N", "PAIR", "W_REV", "HAS_BIAS", "X_HELD"}
    fn = getattr(module, name)
    signature = {
        p: "constexpr" if p in consts else "*fp32" if p.endswith("_ptr") else "fp32" if p == "scale" else "i32"
        for p in inspect.signature(fn.fn).parameters
    }
    for log_n in range(8, MAX_N.bit_length()):
        values = {"LOG_N": log_n, "PAIR": 1, "W_REV": False, "HAS_BIAS": False, "X_HELD": 1}
        options = {"num_warps": fused_warps(1 << log_n)}
        build = compile_for_gpu(fn, name, signature, values, options, globals_override=helpers)
        assert build.ok, build.error
        if build.spill_store_bytes is None:
            pytest.skip("no cuobjdump/nvdisasm in the Triton wheel")
        assert build.spill_store_bytes == 0 and build.spill_load_bytes == 0, (log_n, build.registers)


@pytest.mark.slow
def test_multi_pass_launches_build_for_sm90_without_spills(tmp_path: Any) -> None:
    # The default GPU profile's launches for rows too long for the fused kernel (N = 8192: a 2-stage
    # and an 11-stage launch a transform), each launch kind the gated convolution makes.
    profile = GPU_PROFILES["small_tiles"]["dwconv1d"]
    path = tmp_path / "gated.py"
    plan = _plan("fftconv.gated_long_conv")
    path.write_text(emit_candidate(plan.program, plan.model, copy.deepcopy(GPU_PROFILES["small_tiles"]), "t", "cpu"))
    spec = importlib.util.spec_from_file_location("gated_passes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (name,) = [n for n in vars(module) if n.endswith("_fft") and not n.startswith("__")]
    fn = getattr(module, name)
    helpers = jit_helpers({name + "_span_stage": getattr(module, name + "_span_stage")})
    consts = {"K_ST", "LOG_G", "IN_MODE", "SRC_REV", "INVERSE", "OUT", "HAS_BIAS", "PRE", "PAIR"}
    signature = {
        p: "constexpr" if p in consts else "*fp32" if p.endswith("_ptr") else "fp32" if p == "scale" else "i32"
        for p in inspect.signature(fn.fn).parameters
    }
    passes = fft_passes(13, profile["fft_block"].bit_length() - 1, profile["fft_stages"])
    assert len(passes) == 2
    kinds = set()
    for i, (_, k, g) in enumerate(passes):
        kinds |= {(k, g, int(i == 0), 0, 0, 0, 0), (k, g, int(i == 0), 0, 0, int(i == 0), 1)}  # filter, signal
    for i, (_, k, g) in enumerate(reversed(passes)):
        kinds.add((k, g, 2 * int(i == 0), 1, int(i == len(passes) - 1), 0, 1))  # inverse
    for k, g, mode, inverse, out, pre, pair in sorted(kinds):
        values = {"K_ST": k, "LOG_G": g, "IN_MODE": mode, "SRC_REV": False, "INVERSE": inverse, "OUT": out}
        values |= {"HAS_BIAS": False, "PRE": pre, "PAIR": pair}
        options = {"num_warps": min(profile["fft_warps"], (1 << (k + g)) // 128)}
        build = compile_for_gpu(fn, name, signature, values, options, globals_override=helpers)
        assert build.ok, build.error
        if build.spill_store_bytes is None:
            pytest.skip("no cuobjdump/nvdisasm in the Triton wheel")
        assert build.spill_store_bytes == 0 and build.spill_load_bytes == 0, (values, build.registers)
