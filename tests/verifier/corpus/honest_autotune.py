"""Honest: an @triton.autotune kernel (on a CPU the first config is used without benchmarking).
expect: accepted
static: none
before this round: rejected by the previous verifier (commit 17a26d0, static screen on) by: forward ("0 active drivers" under the interpreter)
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.autotune(
    configs=[triton.Config({"BLOCK": 64}), triton.Config({"BLOCK": 128})],
    key=["n"],
)
@triton.jit
def dwconv_flat_kernel(x_ptr, w_ptr, b_ptr, y_ptr, n, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = offs < n
    j = offs % W
    i = (offs // W) % H
    c = (offs // (W * H)) % C
    plane = offs // (W * H)
    acc = tl.load(b_ptr + c, mask=live, other=0.0)
    for kh in tl.static_range(K):
        for kw in tl.static_range(K):
            ii = i + kh - K // 2
            jj = j + kw - K // 2
            m = live & (ii >= 0) & (ii < H) & (jj >= 0) & (jj < W)
            xv = tl.load(x_ptr + plane * H * W + ii * W + jj, mask=m, other=0.0)
            acc += xv * tl.load(w_ptr + c * K * K + kh * K + kw, mask=live, other=0.0)
    tl.store(y_ptr + offs, acc, mask=live)


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        x = x.contiguous()
        n_, c, h, w = x.shape
        y = torch.empty_like(x)
        n = y.numel()
        grid = lambda meta: (triton.cdiv(n, meta["BLOCK"]),)  # noqa: E731
        dwconv_flat_kernel[grid](x, self.conv.weight, self.conv.bias, y, n, c, h, w, K=self.conv.kernel_size[0])
        return y
