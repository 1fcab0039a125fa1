"""Host computation: converts to numpy and convolves on the host.
expect: no_fallback
static: numpy
"""

import numpy as np
import torch
import torch.nn as nn



#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        xs = x.numpy()
        w = self.conv.weight.detach().numpy()
        b = self.conv.bias.detach().numpy()
        n, c, h, wd = xs.shape
        pad = np.pad(xs, ((0, 0), (0, 0), (1, 1), (1, 1)))
        out = np.zeros_like(xs)
        for i in range(3):
            for j in range(3):
                out += pad[:, :, i:i + h, j:j + wd] * w[None, :, 0, i, j, None, None]
        out += b[None, :, None, None]
        return torch.from_numpy(out)
