"""UniRepLKNet's dilated reparam block, unmerged: a large depthwise kernel plus parallel dilated ones, summed."""

import torch
import torch.nn as nn

BATCH = 2
CHANNELS = 4
HEIGHT = 16
WIDTH = 16
KERNEL_SIZE = 13
BRANCH_KERNELS = [5, 7, 3, 3, 3]
BRANCH_DILATIONS = [1, 2, 3, 4, 5]
DTYPE = "float32"


class Model(nn.Module):
    """y = dw_KxK(x) + sum_i dw_{k_i, dilation d_i}(x), each depthwise, 'same' padding, with bias.

    Each branch's bias stands for its batch norm folded in (inference form of the training graph).
    """

    def __init__(
        self, channels: int, kernel_size: int, branch_kernels: list, branch_dilations: list, dtype: torch.dtype
    ) -> None:
        super().__init__()
        dt = dtype
        self.origin = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels, dtype=dt)
        self.branches = nn.ModuleList(
            nn.Conv2d(channels, channels, k, padding=d * (k - 1) // 2, dilation=d, groups=channels, dtype=dt)
            for k, d in zip(branch_kernels, branch_dilations, strict=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.origin(x)
        for conv in self.branches:
            y = y + conv(x)
        return y


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, HEIGHT, WIDTH, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return [CHANNELS, KERNEL_SIZE, BRANCH_KERNELS, BRANCH_DILATIONS, getattr(torch, DTYPE)]
