"""A trivial op (scale-and-shift of a small vector) with an honest Triton candidate and a wrong one:
verification cost is then almost all fixed overhead (processes, imports), which is what the
executor tests and ``benchmarks/verify_throughput.py`` exercise."""

from __future__ import annotations

REFERENCE = """
import torch
import torch.nn as nn

N = 1024


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return x * 2.0 + 1.0


def get_inputs():
    return [torch.randn(N)]


def get_init_inputs():
    return []
"""

_MODULE = """
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
{kernel}

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        {launch}
        return y
"""


def _candidate(kernel: str, launch: str) -> str:
    """A module with one kernel (its ``def`` and body) and a ``ModelNew`` whose forward launches it once."""
    return _MODULE.format(kernel=kernel.strip("\n") + "\n", launch=launch)


CANDIDATE = _candidate(
    """
def affine_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(y_ptr + offs, x * 2.0 + 1.0, mask=mask)
""",
    "affine_kernel[(triton.cdiv(n, 256),)](x, y, n, BLOCK=256)",
)

WRONG = CANDIDATE.replace("x * 2.0 + 1.0", "x * 2.0 + 1.5")


def variant(k: int) -> str:
    """The honest candidate with a distinct source (each is verified, none is a duplicate)."""
    return CANDIDATE + f"\n# variant {k}\n"


def kernel_variant(k: int) -> str:
    """The honest candidate with a distinct *kernel* (the same values; no earlier GPU build of it can be
    reused, unlike :func:`variant`, whose kernel text is the same every time)."""
    return CANDIDATE.replace("x * 2.0 + 1.0", f"x * 2.0 + (1.0 + 0.0 * {k})")


# an honest candidate that takes seconds in the interpreter (a worker can be killed while it runs)
SLOW = _candidate(
    """
def slow_affine_kernel(x_ptr, y_ptr, n, REPEAT: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    acc = x * 0.0
    for _ in range(REPEAT):
        acc = acc + x
    tl.store(y_ptr + offs, acc * (2.0 / REPEAT) + 1.0, mask=mask)
""",
    "slow_affine_kernel[(triton.cdiv(n, 256),)](x, y, n, REPEAT=6000, BLOCK=256)",
)
