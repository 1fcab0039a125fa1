"""Graph workloads on power-law graphs in CSR form (families ``spmm`` and ``gcn``).

Graphs come from a seeded Chung-Lu-style generator (``power_law_csr`` in the reference sources):
power-law in- and out-degrees, unique sorted column indices per row, exactly NUM_EDGES edges.
Sizes are those of Cora (2,708 nodes, 10,556 directed edges), ogbn-arxiv (169,343 nodes,
1,166,243 edges) and Reddit (232,965 nodes, 114,615,892 edges); the degree exponent is chosen per
graph so that the largest degree is of the order of the real graph's. Adjacencies arrive as plain
tensors (crow_indices, col_indices, values), so candidates get ordinary tensors.

Reddit-sized inputs are large: 114.6M int64 column indices (0.92 GB) plus values (0.46 GB in
float32), and generating them takes tens of seconds of CPU per call of get_inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.build import define_task, dtype_bytes
from tasks.model import Shape, Task, Tier

CORA = {"NUM_NODES": 2708, "NUM_EDGES": 10556, "POWER_LAW_EXPONENT": 2.5}
ARXIV = {"NUM_NODES": 169343, "NUM_EDGES": 1166243, "POWER_LAW_EXPONENT": 2.3}
REDDIT = {"NUM_NODES": 232965, "NUM_EDGES": 114615892, "POWER_LAW_EXPONENT": 3.9}

_SPMM_NOTE = "2 FLOPs per stored edge per feature column; min bytes: CSR arrays + X + Y, each once."
_GCN_NOTE = (
    "X @ W on tensor cores (2 N F_in F_out) plus aggregation over nnz = NUM_EDGES + NUM_NODES "
    "(self loops) at width min(F_in, F_out) (aggregating before or after the transform gives the "
    "same result) plus the bias. min bytes: CSR arrays, X, W, b and Y, each once."
)


def _spmm_shape(
    name: str,
    tier: Tier,
    note: str,
    graph: Mapping[str, Any],
    features: int,
    dtype: str = "float32",
    index_dtype: str = "int64",
) -> Shape:
    params = {**graph, "FEATURES": features, "DTYPE": dtype, "INDEX_DTYPE": index_dtype}
    return Shape(name, params, tier, note)


def _csr_bytes(p: Mapping[str, Any], nnz: int) -> int:
    return dtype_bytes(p["INDEX_DTYPE"]) * (p["NUM_NODES"] + 1 + nnz) + dtype_bytes(p["DTYPE"]) * nnz


def _spmm_flops(p: Mapping[str, Any]) -> float:
    return 2.0 * p["NUM_EDGES"] * p["FEATURES"]


def _spmm_bytes(p: Mapping[str, Any]) -> float:
    dense = 2 * p["NUM_NODES"] * p["FEATURES"]
    return _csr_bytes(p, p["NUM_EDGES"]) + dtype_bytes(p["DTYPE"]) * dense


def _gcn_shape(
    name: str, tier: Tier, note: str, graph: Mapping[str, Any], f_in: int, f_out: int, dtype: str = "float32"
) -> Shape:
    params = {**graph, "IN_FEATURES": f_in, "OUT_FEATURES": f_out, "DTYPE": dtype, "INDEX_DTYPE": "int64"}
    return Shape(name, params, tier, note)


def _gcn_nnz(p: Mapping[str, Any]) -> int:
    return p["NUM_EDGES"] + p["NUM_NODES"]


def _gcn_tensor_flops(p: Mapping[str, Any]) -> float:
    return 2.0 * p["NUM_NODES"] * p["IN_FEATURES"] * p["OUT_FEATURES"]


def _gcn_flops(p: Mapping[str, Any]) -> float:
    width = min(p["IN_FEATURES"], p["OUT_FEATURES"])
    return _gcn_tensor_flops(p) + 2.0 * _gcn_nnz(p) * width + p["NUM_NODES"] * p["OUT_FEATURES"]


def _gcn_bytes(p: Mapping[str, Any]) -> float:
    n, f_in, f_out = p["NUM_NODES"], p["IN_FEATURES"], p["OUT_FEATURES"]
    dense = n * f_in + f_in * f_out + f_out + n * f_out
    return _csr_bytes(p, _gcn_nnz(p)) + dtype_bytes(p["DTYPE"]) * dense


def _small_graph(n: int, e: int) -> dict[str, Any]:
    return {"NUM_NODES": n, "NUM_EDGES": e, "POWER_LAW_EXPONENT": 2.5}


def tasks() -> list[Task]:
    refs = (
        "Kipf & Welling, Semi-Supervised Classification with Graph Convolutional Networks, ICLR 2017",
        "Hu et al., Open Graph Benchmark (ogbn-arxiv), NeurIPS 2020",
        "Hamilton et al., Inductive Representation Learning on Large Graphs (Reddit), NeurIPS 2017",
    )
    spmm = define_task(
        id="spmm.csr",
        title="Sparse CSR adjacency x dense features (SpMM)",
        description="""
        y = A @ X for a weighted adjacency A (N x N, power-law degrees) given as CSR tensors
        crow_indices (N+1,), col_indices (nnz,), values (nnz,) and dense features X (N, F): the
        message-passing step of GNNs. Rows have very different lengths (hub nodes), which is what
        makes a good kernel hard. Graph sizes of Cora, ogbn-arxiv and Reddit, widths 16 to 512.
        The reference is torch's CSR matmul in float32.
        """,
        shapes=[
            _spmm_shape("tiny", "small", "as written", _small_graph(64, 256), 16),
            _spmm_shape("small", "small", "300 nodes, 1,500 edges", _small_graph(300, 1500), 32),
            _spmm_shape(
                "int32_bf16",
                "small",
                "int32 indices, bfloat16 values/features",
                _small_graph(100, 400),
                8,
                dtype="bfloat16",
                index_dtype="int32",
            ),
            _spmm_shape("cora_f16", "realistic", "Cora-sized graph, GCN hidden width 16", CORA, 16),
            _spmm_shape("cora_f64", "realistic", "Cora-sized graph, width 64", CORA, 64),
            _spmm_shape("arxiv_f128", "realistic", "ogbn-arxiv-sized graph, its 128 input features", ARXIV, 128),
            _spmm_shape(
                "arxiv_f256_bf16", "realistic", "ogbn-arxiv-sized graph, width 256, bf16", ARXIV, 256, dtype="bfloat16"
            ),
            _spmm_shape("reddit_f128", "realistic", "Reddit-sized graph (114.6M edges), width 128", REDDIT, 128),
            _spmm_shape(
                "reddit_f512_int32",
                "realistic",
                "Reddit-sized graph, width 512, int32 indices",
                REDDIT,
                512,
                index_dtype="int32",
            ),
        ],
        flops=_spmm_flops,
        min_bytes=_spmm_bytes,
        flops_note=_SPMM_NOTE,
        references=refs,
    )
    gcn = define_task(
        id="gcn.layer",
        title="GCN layer: normalised adjacency x features x weights, plus bias",
        description="""
        y = A_hat @ (X @ W^T) + b with A_hat = D^-1/2 (A + I) D^-1/2 in CSR (values computed in
        get_inputs), X (N, F_in), W (F_out, F_in), b (F_out,): one layer of Kipf & Welling's GCN
        (PyG's GCNConv order). Shapes: Cora's first layer (1433 -> 16), an ogbn-arxiv GCN layer
        (128 -> 256) and a Reddit-sized layer (602 -> 128). Reference in float32.
        """,
        shapes=[
            _gcn_shape("tiny", "small", "as written", _small_graph(64, 256), 32, 16),
            _gcn_shape("odd", "small", "odd widths", _small_graph(150, 600), 20, 12),
            _gcn_shape("cora", "realistic", "Cora-sized graph, first GCN layer 1433 -> 16", CORA, 1433, 16),
            _gcn_shape("arxiv", "realistic", "ogbn-arxiv-sized graph, 128 -> 256", ARXIV, 128, 256),
            _gcn_shape(
                "arxiv_bf16", "realistic", "ogbn-arxiv-sized graph, 256 -> 256, bf16", ARXIV, 256, 256, dtype="bfloat16"
            ),
            _gcn_shape("reddit", "realistic", "Reddit-sized graph (114.6M edges), 602 -> 128", REDDIT, 602, 128),
        ],
        flops=_gcn_flops,
        min_bytes=_gcn_bytes,
        tensor_flops=_gcn_tensor_flops,
        flops_note=_GCN_NOTE,
        references=refs,
    )
    return [spmm, gcn]
