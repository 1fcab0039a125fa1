"""Honest Triton candidate for fftconv.long_conv (test data): the causal convolution summed directly.

No FFT: y[b, h, t] = sum_{j <= t} k[h, j] u[b, h, t - j] + D[h] u[b, h, t], in tiles, in float32.
O(L^2) work, which is fine at the small shapes this is tested on.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _long_conv_kernel(u_ptr, k_ptr, d_ptr, y_ptr, H, L, BLOCK_T: tl.constexpr, BLOCK_J: tl.constexpr):
    row = tl.program_id(0)
    h = row % H
    t0 = tl.program_id(1) * BLOCK_T
    t = t0 + tl.arange(0, BLOCK_T)
    t_ok = t < L
    acc = tl.zeros([BLOCK_T], dtype=tl.float32)
    j_end = tl.minimum(L, t0 + BLOCK_T)
    for j0 in range(0, j_end, BLOCK_J):
        j = j0 + tl.arange(0, BLOCK_J)
        j_ok = j < L
        kv = tl.load(k_ptr + h * L + j, mask=j_ok, other=0.0).to(tl.float32)
        src = t[:, None] - j[None, :]
        ok = t_ok[:, None] & j_ok[None, :] & (src >= 0)
        uv = tl.load(u_ptr + row * L + src, mask=ok, other=0.0).to(tl.float32)
        acc += tl.sum(uv * kv[None, :], axis=1)
    u_t = tl.load(u_ptr + row * L + t, mask=t_ok, other=0.0).to(tl.float32)
    acc += tl.load(d_ptr + h).to(tl.float32) * u_t
    tl.store(y_ptr + row * L + t, acc.to(y_ptr.dtype.element_ty), mask=t_ok)


class ModelNew(nn.Module):
    def __init__(self, channels: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.d = nn.Parameter(torch.randn(channels, dtype=dtype))

    def forward(self, u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        u = u.contiguous()
        k = k.contiguous()
        b, h, length = u.shape
        y = torch.empty_like(u)
        block_t, block_j = 64, 64
        grid = (b * h, triton.cdiv(length, block_t))
        _long_conv_kernel[grid](u, k, self.d, y, h, length, BLOCK_T=block_t, BLOCK_J=block_j)
        return y
