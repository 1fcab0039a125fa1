"""Linear layer fused with GELU (a transformer MLP's up-projection): y = gelu(x @ W^T + b)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

TOKENS = 64
IN_FEATURES = 64
OUT_FEATURES = 128
DTYPE = "float32"


class Model(nn.Module):
    """y (T, F_out) = gelu(x (T, F_in) @ W^T + b), exact (erf) GELU."""

    def __init__(self, in_features: int, out_features: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=True, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.linear(x))


def get_inputs():
    return [torch.randn(TOKENS, IN_FEATURES, dtype=getattr(torch, DTYPE))]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES, getattr(torch, DTYPE)]
