"""Layer normalisation over the last dimension, with a learned scale and shift."""

import torch
import torch.nn as nn

ROWS = 64
HIDDEN = 256
EPS = 1e-5
DTYPE = "float32"


class Model(nn.Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, statistics over the last dim (biased var).

    weight and bias are drawn at random (not 1 and 0) so that a kernel must apply them.
    """

    def __init__(self, hidden: int, eps: float, dtype: torch.dtype) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden, eps=eps, dtype=dtype)
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.uniform_(-0.5, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


def get_inputs():
    return [torch.randn(ROWS, HIDDEN, dtype=getattr(torch, DTYPE)) * 2.0 + 0.5]


def get_init_inputs():
    return [HIDDEN, EPS, getattr(torch, DTYPE)]
