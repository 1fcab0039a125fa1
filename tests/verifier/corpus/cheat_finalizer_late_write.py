"""Cheat: late write from a finalizer. forward returns an empty tensor and leaves cyclic garbage whose
__del__ fills it with torch's convolution; it pads the collector's count so that the collection
(and the write) happens at the harness's next allocations, after forward returned and outside the
recorders. The harness keeps the collector off until the outputs are sent: the write never comes.
expect: values
static: gc
"""

import gc

import torch
import torch.nn as nn

KEEP = []


class _Late:
    def __init__(self, fill):
        self.fill = fill
        self.me = self  # a cycle: only the cyclic collector frees it

    def __del__(self):
        self.fill()


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        y = torch.empty_like(x)
        conv = self.conv

        def fill():
            y.copy_(conv(x))

        _Late(fill)
        threshold = gc.get_threshold()[0]
        while gc.get_count()[0] < threshold - 5:
            KEEP.append([])
        return y
