"""VAN's large-kernel attention: 5x5 depthwise, 7x7 depthwise dilation 3, 1x1 conv, multiply with the input."""

import torch
import torch.nn as nn

BATCH = 2
CHANNELS = 4
HEIGHT = 16
WIDTH = 16
DTYPE = "float32"


class Model(nn.Module):
    """attn = conv1x1(dw7x7_dil3(dw5x5(x))); y = x * attn (all convs with bias, 'same' padding)."""

    def __init__(self, channels: int, dtype: torch.dtype) -> None:
        super().__init__()
        dt = dtype
        self.conv0 = nn.Conv2d(channels, channels, 5, padding=2, groups=channels, dtype=dt)
        self.conv_spatial = nn.Conv2d(channels, channels, 7, padding=9, dilation=3, groups=channels, dtype=dt)
        self.conv1 = nn.Conv2d(channels, channels, 1, dtype=dt)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        attn = self.conv1(self.conv_spatial(self.conv0(x)))
        return x * attn


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, HEIGHT, WIDTH, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return [CHANNELS, getattr(torch, DTYPE)]
