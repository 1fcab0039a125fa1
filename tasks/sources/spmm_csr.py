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
