"""Depthwise 2D convolution with a large kernel: stride 1, 'same' zero padding, optional dilation, bias."""

import torch
import torch.nn as nn

BATCH = 2
CHANNELS = 4
HEIGHT = 16
WIDTH = 16
KERNEL_H = 7
KERNEL_W = 7
DILATION = 1
DTYPE = "float32"


class Model(nn.Module):
    """y = conv2d(x, weight, bias, groups=channels), weight (C, 1, KH, KW), output the size of x."""

    def __init__(self, channels: int, kernel_h: int, kernel_w: int, dilation: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            channels,
            channels,
            (kernel_h, kernel_w),
            padding=(dilation * (kernel_h - 1) // 2, dilation * (kernel_w - 1) // 2),
            dilation=dilation,
            groups=channels,
            bias=True,
            dtype=dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, HEIGHT, WIDTH, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return [CHANNELS, KERNEL_H, KERNEL_W, DILATION, getattr(torch, DTYPE)]
