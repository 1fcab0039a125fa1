"""A pointwise group on a transposed input, then a view that needs eager's layout of its output: eager's
ReLU keeps its input's memory order, so ``y.transpose(1, 2)`` is contiguous and export records a plain
``view`` after it (the pattern of attention's head merge after scaled_dot_product_attention)."""

import torch
import torch.nn as nn

batch_size = 2
rows = 3
cols = 5


class Model(nn.Module):
    def forward(self, x):
        y = torch.relu(x.transpose(1, 2))
        return y.transpose(1, 2).view(x.shape[0], -1)


def get_inputs():
    return [torch.randn(batch_size, rows, cols)]


def get_init_inputs():
    return []
