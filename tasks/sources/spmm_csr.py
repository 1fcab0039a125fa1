"""Sparse (CSR) x dense matrix product: y = A @ X for a power-law graph's weighted adjacency A."""

import warnings

import torch
import torch.nn as nn

NUM_NODES = 256
NUM_EDGES = 1024
FEATURES = 16
POWER_LAW_EXPONENT = 2.5
INDEX_DTYPE = "int64"
DTYPE = "float32"


# include: graphs.py: power_law_csr


class Model(nn.Module):
    """y = A @ x with A (N x N) given in CSR as three plain tensors: crow_indices (N + 1,),
    col_indices (nnz,) and values (nnz,). Computed in float32 and rounded to x's dtype.
    """

    def __init__(self) -> None:
        super().__init__()

    def forward(
        self, crow_indices: torch.Tensor, col_indices: torch.Tensor, values: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        n = x.shape[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            a = torch.sparse_csr_tensor(crow_indices, col_indices, values.float(), size=(n, n))
            y = a @ x.float()
        return y.to(x.dtype)


def get_inputs():
    crow, col = power_law_csr(NUM_NODES, NUM_EDGES, POWER_LAW_EXPONENT)
    idx = getattr(torch, INDEX_DTYPE)
    dt = getattr(torch, DTYPE)
    values = torch.rand(col.numel(), dtype=dt)
    x = torch.randn(NUM_NODES, FEATURES, dtype=dt)
    return [crow.to(idx), col.to(idx), values, x]


def get_init_inputs():
    return []
