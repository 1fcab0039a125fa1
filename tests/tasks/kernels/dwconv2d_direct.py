"""Honest Triton candidate for the generic depthwise conv2d tasks (test data, e.g. dwconv2d.convnext_7x7).

One program per (image, channel) and block of output pixels; every tap is a masked load, accumulated
in float32.
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def _dwconv2d_kernel(
    x_ptr,
    w_ptr,
    b_ptr,
    y_ptr,
    C,
    H,
    W,
    KH: tl.constexpr,
    KW: tl.constexpr,
    DIL: tl.constexpr,
    BLOCK: tl.constexpr,
):
    plane = tl.program_id(0)
    c = plane % C
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < H * W
    oh = offs // W
    ow = offs % W
    pad_h = DIL * (KH - 1) // 2
    pad_w = DIL * (KW - 1) // 2
    x_base = x_ptr + plane * H * W
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for i in range(KH):
        ih = oh + i * DIL - pad_h
        row_ok = inside & (ih >= 0) & (ih < H)
        for j in range(KW):
            iw = ow + j * DIL - pad_w
            ok = row_ok & (iw >= 0) & (iw < W)
            v = tl.load(x_base + ih * W + iw, mask=ok, other=0.0).to(tl.float32)
            wv = tl.load(w_ptr + c * KH * KW + i * KW + j).to(tl.float32)
            acc += v * wv
    acc += tl.load(b_ptr + c).to(tl.float32)
    tl.store(y_ptr + plane * H * W + offs, acc.to(y_ptr.dtype.element_ty), mask=inside)


class ModelNew(nn.Module):
    def __init__(self, channels: int, kernel_h: int, kernel_w: int, dilation: int, dtype: torch.dtype) -> None:
        #include ../../../tasks/sources/dwconv2d.py: Model.__init__[:]
        self.kernel_h = kernel_h
        self.kernel_w = kernel_w
        self.dilation = dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous()
        b, c, h, w = x.shape
        y = torch.empty_like(x)
        block = 256
        grid = (b * c, triton.cdiv(h * w, block))
        _dwconv2d_kernel[grid](
            x,
            self.conv.weight,
            self.conv.bias,
            y,
            c,
            h,
            w,
            KH=self.kernel_h,
            KW=self.kernel_w,
            DIL=self.dilation,
            BLOCK=block,
        )
        return y
