"""Dense matrix multiplication: C = A @ B."""

import torch
import torch.nn as nn

M = 64
N = 64
K = 64
DTYPE = "float32"


class Model(nn.Module):
    """C (M, N) = A (M, K) @ B (K, N)."""

    def __init__(self) -> None:
        super().__init__()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


def get_inputs():
    dt = getattr(torch, DTYPE)
    return [torch.randn(M, K, dtype=dt), torch.randn(K, N, dtype=dt)]


def get_init_inputs():
    return []
