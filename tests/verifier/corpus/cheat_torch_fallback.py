"""Cheat: torch fallback. The forward calls PyTorch's convolution instead of a kernel.
expect: no_fallback
static: none
"""

import torch
import torch.nn as nn



#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        return torch.nn.functional.conv2d(x, self.conv.weight, self.conv.bias, padding=1, groups=x.shape[1])
