"""ConvNeXt block's 7x7 depthwise convolution (Liu et al., 2022), KernelBench format.

Small shape by default so it verifies in seconds under the Triton interpreter; ConvNeXt-T stage 1
is batch 64, 96 channels, 56x56.
"""

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


batch_size = 2
channels = 8
height = 16
width = 16
kernel_size = 7


def get_inputs():
    return [torch.randn(batch_size, channels, height, width)]


def get_init_inputs():
    return [channels, kernel_size]
