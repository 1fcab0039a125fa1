"""Honest Triton candidate for conv1d.long_causal (test data): direct causal summation in tiles.

One program per (batch, channel) row and block of outputs; taps are visited in blocks, each a 2D
tile of x[t - j] * w[j] reduced over j, accumulated in float32.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _causal_conv1d_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, L, K, BLOCK_T: tl.constexpr, BLOCK_J: tl.constexpr):
    row = tl.program_id(0)
    c = row % C
    t0 = tl.program_id(1) * BLOCK_T
    t = t0 + tl.arange(0, BLOCK_T)
    t_ok = t < L
    acc = tl.zeros([BLOCK_T], dtype=tl.float32)
    j_end = tl.minimum(K, t0 + BLOCK_T)
    for j0 in range(0, j_end, BLOCK_J):
        j = j0 + tl.arange(0, BLOCK_J)
        j_ok = j < K
        w = tl.load(w_ptr + c * K + j, mask=j_ok, other=0.0).to(tl.float32)
        src = t[:, None] - j[None, :]
        ok = t_ok[:, None] & j_ok[None, :] & (src >= 0)
        xv = tl.load(x_ptr + row * L + src, mask=ok, other=0.0).to(tl.float32)
        acc += tl.sum(xv * w[None, :], axis=1)
    acc += tl.load(b_ptr + c).to(tl.float32)
    tl.store(y_ptr + row * L + t, acc.to(y_ptr.dtype.element_ty), mask=t_ok)


class ModelNew(nn.Module):
    def __init__(self, channels: int, kernel_size: int, dtype: torch.dtype) -> None:
        #include ../../../tasks/sources/conv1d_long_causal.py: Model.__init__[:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        b, c, length = x.shape
        k = self.weight.shape[-1]
        y = torch.empty_like(x)
        block_t, block_j = 64, 64
        grid = (b * c, triton.cdiv(length, block_t))
        _causal_conv1d_kernel[grid](x, self.weight, self.bias, y, c, length, k, BLOCK_T=block_t, BLOCK_J=block_j)
        return y
