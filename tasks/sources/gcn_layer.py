"""One GCN layer (Kipf & Welling): y = A_hat @ (X @ W) + b, A_hat the normalised adjacency in CSR."""

import warnings

import torch
import torch.nn as nn

NUM_NODES = 256
NUM_EDGES = 1024
IN_FEATURES = 32
OUT_FEATURES = 16
POWER_LAW_EXPONENT = 2.5
INDEX_DTYPE = "int64"
DTYPE = "float32"


# include: graphs.py: power_law_csr


class Model(nn.Module):
    """y = A_hat @ (x @ W^T) + b (GCNConv: transform, then aggregate, then bias).

    A_hat = D^-1/2 (A + I) D^-1/2 arrives as CSR values (computed in get_inputs), with D the row
    degrees of A + I; crow_indices (N + 1,), col_indices (nnz,), values (nnz,), x (N, F_in).
    W (F_out, F_in) and b (F_out,) are the parameters. Computed in float32, rounded to x's dtype.
    """

    def __init__(self, in_features: int, out_features: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=True, dtype=dtype)

    def forward(
        self, crow_indices: torch.Tensor, col_indices: torch.Tensor, values: torch.Tensor, x: torch.Tensor
    ) -> torch.Tensor:
        n = x.shape[0]
        h = x.float() @ self.linear.weight.float().t()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            a = torch.sparse_csr_tensor(crow_indices, col_indices, values.float(), size=(n, n))
            y = a @ h
        return (y + self.linear.bias.float()).to(x.dtype)


def get_inputs():
    crow, col = power_law_csr(NUM_NODES, NUM_EDGES, POWER_LAW_EXPONENT, self_loops=True)
    deg = (crow[1:] - crow[:-1]).double()
    rows = torch.repeat_interleave(torch.arange(NUM_NODES), crow[1:] - crow[:-1])
    inv_sqrt = deg.rsqrt()
    dt = getattr(torch, DTYPE)
    values = (inv_sqrt[rows] * inv_sqrt[col]).to(dt)
    x = torch.randn(NUM_NODES, IN_FEATURES, dtype=dt)
    idx = getattr(torch, INDEX_DTYPE)
    return [crow.to(idx), col.to(idx), values, x]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES, getattr(torch, DTYPE)]
