"""Honest: `F.pad` before the kernel (zero padding by PyTorch, a layout op), then a kernel that
needs no boundary masks on the padded input.
expect: accepted
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: no_fallback
"""

import torch.nn.functional as F

#include honest_dwconv.py: imports


@triton.jit
def dwconv_padded_kernel(xp_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
    plane = tl.program_id(0)
    c = plane % C
    PH = H + K - 1
    PW = W + K - 1
    offs_h = tl.arange(0, BLOCK)
    offs_w = tl.arange(0, BLOCK)
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)
    for kh in tl.static_range(K):
        for kw in tl.static_range(K):
            ptrs = xp_ptr + plane * PH * PW + (offs_h[:, None] + kh) * PW + (offs_w[None, :] + kw)
            acc += tl.load(ptrs, mask=m, other=0.0) * tl.load(w_ptr + c * K * K + kh * K + kw)
    acc += tl.load(b_ptr + c)
    tl.store(y_ptr + plane * H * W + offs_h[:, None] * W + offs_w[None, :], acc, mask=m)


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        n, c, h, w = x.shape
        xp = F.pad(x, (1, 1, 1, 1)).contiguous()
        y = torch.empty_like(x)
        dwconv_padded_kernel[(n * c,)](xp, self.conv.weight, self.conv.bias, y, c, h, w, K=3, BLOCK=8)
        return y
