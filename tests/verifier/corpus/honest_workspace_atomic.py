"""Honest patterns an LLM writes every day: a workspace kept across calls, torch.zeros plus
tl.atomic_add, inputs read through their strides without .contiguous(), and the output returned
as a slice of the kernel's own padded buffer.
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit 17a26d0, static screen on)
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def dwconv_atomic_kernel(
    x_ptr, w_ptr, y_ptr, sn, sc, sh, sw, C, H, W, PW, K: tl.constexpr, BLOCK: tl.constexpr
):
    plane = tl.program_id(0)
    kh = tl.program_id(1)
    #include honest_channels_last_strided.py: dwconv_nhwc_kernel[1:6]
    ih = offs_h + kh - K // 2
    for kw in tl.static_range(K):
        iw = offs_w + kw - K // 2
        m = ((ih >= 0) & (ih < H))[:, None] & ((iw >= 0) & (iw < W))[None, :]
        x = tl.load(x_ptr + b * sn + c * sc + ih[:, None] * sh + iw[None, :] * sw, mask=m, other=0.0)
        acc += x * tl.load(w_ptr + c * K * K + kh * K + kw)
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    tl.atomic_add(y_ptr + plane * H * PW + offs_h[:, None] * PW + offs_w[None, :], acc, mask=m)


@triton.jit
def add_bias_kernel(y_ptr, b_ptr, C, H, PW, W, BLOCK: tl.constexpr):
    plane = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    row = offs // W
    col = offs % W
    m = offs < H * W
    p = y_ptr + plane * H * PW + row * PW + col
    tl.store(p, tl.load(p, mask=m) + tl.load(b_ptr + plane % C), mask=m)


#include honest_dwconv.py: ModelNew.__init__
        self.workspace = None

    def forward(self, x):
        n, c, h, w = x.shape
        pw = w + 3  # padded rows in the kernel's own buffer
        if self.workspace is None or self.workspace.shape != (n, c, h, pw):
            self.workspace = torch.empty((n, c, h, pw), dtype=x.dtype, device=x.device)
        y = torch.zeros((n, c, h, pw), dtype=x.dtype, device=x.device)
        k = self.conv.kernel_size[0]
        block = triton.next_power_of_2(max(h, w))
        sn, sc, sh, sw = x.stride()
        dwconv_atomic_kernel[(n * c, k)](x, self.conv.weight, y, sn, sc, sh, sw, c, h, w, pw, K=k, BLOCK=block)
        add_bias_kernel[(n * c,)](y, self.conv.bias, c, h, pw, w, BLOCK=triton.next_power_of_2(h * w))
        return y[..., :w]
