"""Causal depthwise 1D convolution with a kernel as long as the sequence (CKConv / FlexConv / SGConv style)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 2
CHANNELS = 4
SEQ_LEN = 64
KERNEL_SIZE = 64
DTYPE = "float32"


class Model(nn.Module):
    """y[b, c, t] = bias[c] + sum_{j = 0}^{min(t, K - 1)} weight[c, j] * x[b, c, t - j].

    The kernel (C, K) is a parameter here; in CKConv/FlexConv/SGConv a small network generates it.
    Computed in float32 and rounded to the input dtype.
    """

    def __init__(self, channels: int, kernel_size: int, dtype: torch.dtype) -> None:
        super().__init__()
        dt = dtype
        self.weight = nn.Parameter(torch.randn(channels, kernel_size, dtype=dt) / kernel_size**0.5)
        self.bias = nn.Parameter(torch.randn(channels, dtype=dt) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.weight.shape[-1]
        w = self.weight.float().flip(-1).unsqueeze(1)
        y = F.conv1d(F.pad(x.float(), (k - 1, 0)), w, self.bias.float(), groups=x.shape[1])
        return y.to(x.dtype)


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, SEQ_LEN, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return [CHANNELS, KERNEL_SIZE, getattr(torch, DTYPE)]
