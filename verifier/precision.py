"""Float32 precision on the GPU: what the eager baseline is pinned to, and what reference outputs use.

PyTorch's float32 matmuls (cuBLAS) and convolutions (cuDNN) may run on TF32 tensor cores (10
mantissa bits) or in full float32 ("ieee"), depending on process-wide settings whose defaults have
changed between releases. A speedup over eager means nothing unless both sides' precision is known,
so the verifier pins them and records them in every timing:

- ``BASELINE``: the eager (and ``torch.compile``) baseline is timed, and a Triton plan is run and
  timed, with PyTorch's defaults pinned explicitly (KernelBench's evaluation runs with them): float32
  matmuls in full float32, float32 convolutions in TF32.
- ``EXACT``: the reference's outputs that candidates are judged against are computed with TF32 off
  everywhere, so the tolerance is measured from float32 results, not from TF32 ones.

The template compiler reads :func:`fp32_dot_precision` for the ``tl.dot`` precision of float32
operands: ``"tf32"`` where the eager baseline of that kind of op runs TF32 (a convolution), else
``"tf32x3"`` (three TF32 products, about float32 accuracy). A kernel then does the work at the
baseline's precision, neither three times the work at a higher one nor a lower one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch

OpKind = Literal["matmul", "conv"]

BASELINE: dict[OpKind, bool] = {"matmul": False, "conv": True}
"""Whether the eager baseline runs float32 ops of each kind on TF32 tensor cores (PyTorch's defaults)."""
EXACT: dict[OpKind, bool] = {"matmul": False, "conv": False}
"""TF32 off everywhere: the reference outputs' precision."""


def fp32_dot_precision(kind: OpKind) -> str:
    """Triton ``tl.dot`` ``input_precision`` for float32 operands of an op of ``kind``, matched to the
    eager baseline's precision for that kind."""
    return "tf32" if BASELINE[kind] else "tf32x3"


def _set(kind: OpKind, tf32: bool) -> None:
    mode = "tf32" if tf32 else "ieee"
    if kind == "matmul":
        if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
            torch.backends.cuda.matmul.fp32_precision = mode
        else:  # torch < 2.9
            torch.backends.cuda.matmul.allow_tf32 = tf32
    elif hasattr(torch.backends.cudnn, "conv") and hasattr(torch.backends.cudnn.conv, "fp32_precision"):
        torch.backends.cudnn.conv.fp32_precision = mode
    else:
        torch.backends.cudnn.allow_tf32 = tf32


def current() -> dict[str, str]:
    """The process's float32 settings now, as PyTorch reports them (recorded with every timing)."""
    matmul = getattr(torch.backends.cuda.matmul, "fp32_precision", None)
    conv = getattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision", None)
    if matmul in (None, "none"):
        matmul = "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee"
    if conv in (None, "none"):
        conv = "tf32" if torch.backends.cudnn.allow_tf32 else "ieee"
    return {"matmul_fp32": str(matmul), "conv_fp32": str(conv)}


def pin(setting: dict[OpKind, bool]) -> dict[str, str]:
    """Set both kinds as ``setting`` says; the settings now in force."""
    for kind, tf32 in setting.items():
        _set(kind, tf32)
    return current()


@contextlib.contextmanager
def pinned(setting: dict[OpKind, bool]) -> Iterator[dict[str, str]]:
    """``setting`` for the ``with`` block, then the settings before it."""
    before = current()
    try:
        yield pin(setting)
    finally:
        pin({"matmul": before["matmul_fp32"] == "tf32", "conv": before["conv_fp32"] == "tf32"})
