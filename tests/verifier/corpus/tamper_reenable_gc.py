"""Tamper: turns the garbage collector back on inside forward, so that a finalizer can write the
output after forward returned (see cheat_finalizer_late_write).
expect: integrity
static: gc
"""

import gc

import torch
import torch.nn as nn

KEEP = []


class _Late:
    def __init__(self, fill):
        self.fill = fill
        self.me = self

    def __del__(self):
        self.fill()


class ModelNew(nn.Module):
    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)

    def forward(self, x):
        y = torch.empty_like(x)
        conv = self.conv

        def fill():
            y.copy_(conv(x))

        gc.enable()
        _Late(fill)
        threshold = gc.get_threshold()[0]
        while gc.get_count()[0] < threshold - 5:
            KEEP.append([])
        return y
