"""Row softmax over the last dimension."""

import torch
import torch.nn as nn

ROWS = 64
COLS = 256
DTYPE = "float32"


class Model(nn.Module):
    """y = softmax(x, dim=-1) for x (ROWS, COLS)."""

    def __init__(self) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=-1)


def get_inputs():
    return [torch.randn(ROWS, COLS, dtype=getattr(torch, DTYPE)) * 3.0]


def get_init_inputs():
    return []
