"""Backward tasks: the seed families' training-step cost models and rooflines.

A backward task is a built-in task verified with ``mode="backward"``: every call is the forward with
autograd and then the backward of a fresh random ``grad_output``, and the verifier times the two
together (what a training step spends on the op). Its roofline is therefore that of the step:

* FLOPs = the forward's + the backward's (input gradient, weight/filter/value gradient, bias or skip
  gradient), counted as the forward counts them (2 per multiply-add);
* min bytes = every input, parameter and ``grad_output`` read once, every output and gradient
  written once (what a perfectly fused step must move; saved activations are not counted).

Every differentiable input's gradient is checked (the tasks set no ``grad_inputs``): the CSR SpMM's
gradients are for the dense features and the values (SpTransX's pattern), the FFT convolution's for
the input and the filter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from tasks.build import dtype_bytes
from tasks.builtin.conv1d import causal_taps
from tasks.hardware import DEFAULT_HARDWARE, Hardware
from tasks.model import ParamFn, Shape, Task, TaskError
from tasks.roofline import RooflineFigures, roofline


@dataclass(frozen=True)
class StepCost:
    """A training step's cost model (forward plus backward) as functions of a shape's parameters."""

    flops: ParamFn
    min_bytes: ParamFn
    note: str
    tensor_flops: ParamFn | None = None


def _dw2d_flops(p: Mapping[str, Any]) -> float:
    act = p["BATCH"] * p["CHANNELS"] * p["HEIGHT"] * p["WIDTH"]
    taps = p["KERNEL_H"] * p["KERNEL_W"]
    return act * (2 * taps + 1) + act * 2 * taps + act * 2 * taps + act


def _dw2d_bytes(p: Mapping[str, Any]) -> float:
    act = p["BATCH"] * p["CHANNELS"] * p["HEIGHT"] * p["WIDTH"]
    params = p["CHANNELS"] * (p["KERNEL_H"] * p["KERNEL_W"] + 1)
    return dtype_bytes(p["DTYPE"]) * (4 * act + 2 * params)


def _conv1d_flops(p: Mapping[str, Any]) -> float:
    rows = p["BATCH"] * p["CHANNELS"]
    taps = causal_taps(p["SEQ_LEN"], p["KERNEL_SIZE"])
    return rows * (2 * taps + p["SEQ_LEN"]) + rows * 2 * taps + rows * 2 * taps + rows * p["SEQ_LEN"]


def _conv1d_bytes(p: Mapping[str, Any]) -> float:
    act = p["BATCH"] * p["CHANNELS"] * p["SEQ_LEN"]
    return dtype_bytes(p["DTYPE"]) * (4 * act + 2 * p["CHANNELS"] * (p["KERNEL_SIZE"] + 1))


def _spmm_flops(p: Mapping[str, Any]) -> float:
    return 3 * 2.0 * p["NUM_EDGES"] * p["FEATURES"]


def _spmm_bytes(p: Mapping[str, Any]) -> float:
    nnz, n, f = p["NUM_EDGES"], p["NUM_NODES"], p["FEATURES"]
    indices = dtype_bytes(p["INDEX_DTYPE"]) * (n + 1 + nnz)
    return indices + dtype_bytes(p["DTYPE"]) * (2 * nnz + 4 * n * f)


def _real_fft_flops(n: int) -> float:
    return 2.5 * n * math.log2(n)


def _fft_flops(p: Mapping[str, Any]) -> float:
    b, h, length = p["BATCH"], p["CHANNELS"], p["SEQ_LEN"]
    n = 2 * length
    bins = n // 2 + 1
    forward = b * h * (2 * _real_fft_flops(n) + 6 * bins + 2 * length) + h * _real_fft_flops(n)
    backward = b * h * (2 * _real_fft_flops(n) + 6 * bins + 8 * bins + 4 * length) + h * _real_fft_flops(n)
    return forward + backward


def _fft_bytes(p: Mapping[str, Any]) -> float:
    b, h, length = p["BATCH"], p["CHANNELS"], p["SEQ_LEN"]
    return dtype_bytes(p["DTYPE"]) * (4 * b * h * length + 2 * (h * length + h))


def _gemm_tensor_flops(p: Mapping[str, Any]) -> float:
    return 3 * 2.0 * p["TOKENS"] * p["IN_FEATURES"] * p["OUT_FEATURES"]


def _gemm_flops(p: Mapping[str, Any]) -> float:
    return _gemm_tensor_flops(p) + 22.0 * p["TOKENS"] * p["OUT_FEATURES"]


def _gemm_bytes(p: Mapping[str, Any]) -> float:
    t, i, o = p["TOKENS"], p["IN_FEATURES"], p["OUT_FEATURES"]
    return dtype_bytes(p["DTYPE"]) * (2 * t * i + 2 * i * o + 2 * o + 2 * t * o)


_DW2D = StepCost(
    _dw2d_flops,
    _dw2d_bytes,
    "forward (2 per tap + bias) + input gradient (a correlation with the flipped kernel, 2 per tap) + weight "
    "gradient (2 per tap of every output) + bias gradient (a sum); CUDA cores",
)
STEP_COSTS: dict[str, StepCost] = {
    "dwconv2d.convnext_7x7": _DW2D,
    "dwconv2d.replknet_31x31": _DW2D,
    "dwconv2d.slak_51x51": _DW2D,
    "conv1d.long_causal": StepCost(
        _conv1d_flops,
        _conv1d_bytes,
        "forward + input gradient (anti-causal correlation) + kernel gradient (2 per causal tap) + bias gradient",
    ),
    "spmm.csr": StepCost(
        _spmm_flops,
        _spmm_bytes,
        "forward A@x + dense-feature gradient A^T@dy + value gradient (a dot of dy's row and x's column per "
        "nonzero): 2 FLOPs per nonzero per feature each",
    ),
    "fftconv.long_conv": StepCost(
        _fft_flops,
        _fft_bytes,
        "forward (rfft u, irfft, pointwise, skip) + backward by FFT: rfft of dy, irfft of the input gradient, "
        "the filter gradient's conjugate products summed over the batch and one irfft per channel, skip gradient",
    ),
    "general.linear_gelu": StepCost(
        _gemm_flops,
        _gemm_bytes,
        "three matmuls (forward, input gradient dy'W, weight gradient dy'^T x) on tensor cores + GELU and its "
        "derivative (~21 FLOPs an element) + bias gradient",
        _gemm_tensor_flops,
    ),
}
"""The seed families' backward tasks, by task id."""


def backward_task_ids() -> list[str]:
    """Built-in tasks with a training-step cost model (the seed families' backward tasks)."""
    return sorted(STEP_COSTS)


def backward_task(task: Task) -> Task:
    """``task`` with its cost model replaced by its training step's (for rooflines of backward timings)."""
    cost = STEP_COSTS.get(task.id)
    if cost is None:
        raise TaskError(f"task {task.id} has no backward cost model; backward tasks: {', '.join(backward_task_ids())}")
    return replace(
        task, flops=cost.flops, min_bytes=cost.min_bytes, tensor_flops=cost.tensor_flops, flops_note=cost.note
    )


def backward_roofline(task: Task, shape: Shape | str, hardware: str | Hardware = DEFAULT_HARDWARE) -> RooflineFigures:
    """The roofline of ``task``'s training step (forward plus backward) on ``shape`` and ``hardware``."""
    return roofline(backward_task(task), shape, hardware)
