"""Code the graph references share, included where they say ``# include: graphs.py: NAME``
(``tasks.source.read_packaged_source``): each reference is still one standalone module."""

import torch


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
