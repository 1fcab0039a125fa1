"""Honest Triton candidate for general.softmax (test data): one program per row, online max/sum.

Two passes over the row in blocks: the running max and rescaled sum, then the normalised output.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _softmax_kernel(x_ptr, y_ptr, N, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    base = row.to(tl.int64) * N
    m = tl.full([BLOCK], float("-inf"), dtype=tl.float32)
    s = tl.zeros([BLOCK], dtype=tl.float32)
    for c0 in range(0, N, BLOCK):
        c = c0 + tl.arange(0, BLOCK)
        v = tl.load(x_ptr + base + c, mask=c < N, other=float("-inf")).to(tl.float32)
        m_new = tl.maximum(m, v)
        scale = tl.where(m_new == float("-inf"), 0.0, tl.exp(m - m_new))
        s = s * scale + tl.where(v == float("-inf"), 0.0, tl.exp(v - m_new))
        m = m_new
    row_max = tl.max(m, axis=0)
    total = tl.sum(s * tl.where(m == float("-inf"), 0.0, tl.exp(m - row_max)), axis=0)
    for c0 in range(0, N, BLOCK):
        c = c0 + tl.arange(0, BLOCK)
        v = tl.load(x_ptr + base + c, mask=c < N, other=float("-inf")).to(tl.float32)
        out = tl.exp(v - row_max) / total
        tl.store(y_ptr + base + c, out.to(y_ptr.dtype.element_ty), mask=c < N)


class ModelNew(nn.Module):
    def __init__(self) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        rows, cols = x.shape
        y = torch.empty_like(x)
        _softmax_kernel[(rows,)](x, y, cols, BLOCK=256)
        return y
