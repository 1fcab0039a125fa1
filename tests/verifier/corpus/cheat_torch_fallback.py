"""Cheat: torch fallback. The forward calls PyTorch's convolution instead of a kernel.
expect: no_fallback
static: none
"""

import torch
import torch.nn as nn



class ModelNew(nn.Module):
    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    def forward(self, x):
        return torch.nn.functional.conv2d(x, self.conv.weight, self.conv.bias, padding=1, groups=x.shape[1])
