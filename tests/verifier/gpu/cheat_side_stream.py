"""
Cheat (GPU only): launches the kernel on a private side stream and returns before it finishes, so
a timer on the caller's stream sees almost nothing. The side stream first spins for ~50 ms
(torch.cuda._sleep), so the kernel is certainly unfinished when forward returns: the check is not a
race (run with the static screen off: `_sleep` is private torch).
expect: stream
static: none
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
    plane = tl.program_id(0)
    c = plane % C
    offs_h = tl.arange(0, BLOCK)
    offs_w = tl.arange(0, BLOCK)
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)
    for kh in tl.static_range(K):
        ih = offs_h + kh - K // 2
        for kw in tl.static_range(K):
            iw = offs_w + kw - K // 2
            m = ((ih >= 0) & (ih < H))[:, None] & ((iw >= 0) & (iw < W))[None, :]
            x = tl.load(x_ptr + plane * H * W + ih[:, None] * W + iw[None, :], mask=m, other=0.0)
            acc += x * tl.load(w_ptr + c * K * K + kh * K + kw)
    acc += tl.load(b_ptr + c)
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    tl.store(y_ptr + plane * H * W + offs_h[:, None] * W + offs_w[None, :], acc, mask=m)


def dwconv(x, weight, bias):
    x = x.contiguous()
    n, c, h, w = x.shape
    y = torch.empty_like(x)
    dwconv_kernel[(n * c,)](x, weight, bias, y, c, h, w, K=weight.shape[-1], BLOCK=triton.next_power_of_2(max(h, w)))
    return y



class ModelNew(nn.Module):
    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        self.side = torch.cuda.Stream()

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        y = torch.empty_like(x)
        with torch.cuda.stream(self.side):
            torch.cuda._sleep(100_000_000)
            dwconv_kernel[(n * c,)](x, self.conv.weight, self.conv.bias, y, c, h, w, K=self.conv.weight.shape[-1],
                                    BLOCK=triton.next_power_of_2(max(h, w)))
        return y
