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


def power_law_csr(num_nodes, num_edges, exponent, self_loops=False):
    """(crow_indices, col_indices) of a random directed graph with power-law degrees (int64).

    Chung-Lu style: node i gets weight r_i ** (-1 / (exponent - 1)) for a random rank r_i, and both
    ends of every edge are drawn in proportion to weight, so in- and out-degrees follow a power law
    with that exponent. Duplicate edges are dropped (a quarter more edges are drawn, then a random
    num_edges of the distinct ones kept); column indices are sorted and unique within each row.
    self_loops adds the edge (i, i) for every node on top. Uses torch's global RNG (seeded by caller).
    Draws in chunks so that a Reddit-sized graph (1.1e8 edges) peaks at a few GB.
    """
    n = num_nodes
    ranks = torch.randperm(n).double() + 1.0
    cdf = torch.cumsum(ranks.pow(-1.0 / (exponent - 1.0)), 0)
    cdf = cdf / cdf[-1]
    draws = int(num_edges * 1.25) + 16
    keys = torch.empty(draws, dtype=torch.int64)
    chunk = 1 << 22
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        rows = torch.searchsorted(cdf, torch.rand(size, dtype=torch.float64)).clamp_(max=n - 1)
        cols = torch.searchsorted(cdf, torch.rand(size, dtype=torch.float64)).clamp_(max=n - 1)
        keys[start : start + size] = rows * n + cols
    keys = torch.unique(keys)
    surplus = keys.numel() - num_edges
    if surplus > 0:
        keep = torch.ones(keys.numel(), dtype=torch.bool)
        keep[torch.randperm(keys.numel())[:surplus]] = False
        keys = keys[keep]
    if self_loops:
        keys = torch.unique(torch.cat([keys, torch.arange(n) * (n + 1)]))
    rows = torch.div(keys, n, rounding_mode="floor")
    cols = keys - rows * n
    crow = torch.zeros(n + 1, dtype=torch.int64)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=n), 0)
    return crow, cols


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
