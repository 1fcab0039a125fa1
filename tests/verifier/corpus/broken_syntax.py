"""Broken: a syntax error.
expect: load
static: syntax error
"""

import torch
import torch.nn as nn



class ModelNew(nn.Module):
    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    def forward(self, x)
        return x
