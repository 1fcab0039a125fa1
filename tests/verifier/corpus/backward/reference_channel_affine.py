"""The backward corpus's task: a per-channel scale and shift (two parameters, an input gradient and
two parameter gradients that reduce over batch and length)."""

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels))
        self.bias = nn.Parameter(torch.randn(channels))

    def forward(self, x):
        return x * self.weight[None, :, None] + self.bias[None, :, None]


batch_size = 3
channels = 5
length = 37


def get_inputs():
    return [torch.randn(batch_size, channels, length)]


def get_init_inputs():
    return [channels]
