"""CSR sparse x dense (SpMM), and the GCN layer's sparse x dense x dense, row-blocked, features the
vectorised axis.

**SpMM** (``emit_spmm``, y = A X): a program takes ``BLOCK_M`` consecutive rows and a block of
``BLOCK_F`` feature columns. Their edges are one contiguous range of the CSR arrays (``crow[r0]`` to
``crow[r0 + BLOCK_M]``, ``csr_rows``), walked in chunks of ``BLOCK_E`` edges whatever row each belongs
to (``csr_aggregate``): the column indices and values of a chunk are one contiguous load (not a partial
sector per short row), the rows of X they name one gather of ``BLOCK_E x BLOCK_F`` (a column named
twice in a chunk, as hubs are in power-law graphs, is one request). The chunk's products
``values[e] * X[col[e]]`` are summed along its edges in float32 by a segmented scan that restarts at each
row's first edge (``segment_add``; the rows that start in the chunk marked with ``tl.histogram``), and
each row's part of the chunk is the scan at its last edge there (one ``tl.gather``), added into the
block's rows: each edge's multiply-add once. (The float64 running sum and difference of two gathers
this replaced took 185 registers at 4,096 values a chunk, this 171.) ``BLOCK_E`` is chosen per shape at
launch (``chunk_edges``): a row block's average edges, so that a program's edges are one chunk on
average and the rows of X they share are gathered once, within the profile's budget of ``block_e x
block_f`` values a chunk (its registers; at 8 warps at least ``CHUNK_VALUES_A_THREAD`` a thread).
``crow`` is read once per block, in one load of its ``BLOCK_M + 1`` bounds. int32 or int64 indices.

**Aggregate, then project** (``emit_spmm_mm``, y = A (X W) = (A X) W, the GCN layer's
``A_hat @ (x @ W^T) + b``): one kernel a block of rows aggregates its neighbours' rows of X
(``csr_aggregate`` over ``BLOCK_K`` input features at a time) and multiplies the ``BLOCK_M x BLOCK_K``
sums by the matching rows of W with ``tl.dot`` (tensor cores; ``tf32x3``, float32's precision, even for
16-bit X and W, since the sums are float32), all output features in one tile; the bias and any other
epilogue follow. Nothing between the two products goes through global memory: the two-kernel form
writes X W (N x F_out) and gathers it again per edge. Aggregating first gathers rows of X (F_in wide)
instead of rows of X W (F_out wide), so the launcher takes the fused kernel only while
``F_in <= FUSE_MAX_RATIO * F_out`` and ``F_out <= FUSE_MAX_OUT`` (one output tile); otherwise (Cora's
1433 -> 16, say) it runs the matmul, then the SpMM with the epilogue.
"""

from __future__ import annotations

import inspect

import triton
import triton.language as tl

from agents.template.ir import Node, NodeRef
from agents.template.templates.common import Ctx, Epilogue, block, warps
from agents.template.templates.dense import FP32_DOT_PRECISION, emit_matmul

CHUNK_VALUES_A_THREAD = 16
"""The gathered values a chunk holds a thread, at least, at 8 warps (4,096 values): the sm_90 builds take
167-198 registers and do not spill at 16-32 features; at 32 a thread (8,192) they take all 255 and some
spill (tests/agents/test_template_sparse.py, docs/static_profile.md)."""
FUSE_MAX_OUT = 64
"""Output features the fused aggregate-then-project kernel holds in one tile (a row of ``tl.dot``'s N)."""
FUSE_MAX_RATIO = 2
"""The fused kernel gathers F_in-wide rows instead of F_out-wide: taken while F_in is at most this many
times F_out (the write and re-read of X W and a launch are what it saves)."""


@triton.jit
def csr_rows(crow_ptr, crow_s, N, BLOCK_M: tl.constexpr):
    """This program's ``BLOCK_M`` rows (from ``r0 = program_id(0) * BLOCK_M``) of a CSR matrix with ``N``
    rows: ``(r, r_ok, lo, hi, start, end)``, each row's first edge and one past its last (``hi`` 0 past
    ``N``), and the block's edge range ``[start, end)``. ``crow[r0 .. r0 + BLOCK_M]`` is one load; each
    row's bounds are taken from it with ``tl.gather``."""
    r0 = tl.program_id(0).to(tl.int64) * BLOCK_M
    r = r0 + tl.arange(0, BLOCK_M)
    r_ok = r < N
    j = tl.arange(0, 2 * BLOCK_M)
    j_ok = (j <= BLOCK_M) & (r0 + j <= N)
    bounds = tl.load(crow_ptr + (r0 + j) * crow_s, mask=j_ok, other=0).to(tl.int64)
    lo = tl.gather(bounds, tl.arange(0, BLOCK_M), axis=0)
    hi = tl.where(r_ok, tl.gather(bounds, tl.arange(0, BLOCK_M) + 1, axis=0), 0)
    start = tl.sum(tl.where(r == r0, lo, 0), axis=0)  # the first row's first edge
    end = tl.max(hi, axis=0)  # the last row's end (crow never decreases)
    return r, r_ok, lo, hi, start, end


@triton.jit
def segment_add(v1, s1, v2, s2):
    """The segmented sum's combine: a value whose segment starts here (``s2``) does not add what came before."""
    return tl.where(s2 != 0, v2, v1 + v2), s1 | s2


@triton.jit
def csr_aggregate(
    col_ptr, col_s, val_ptr, val_s, x_ptr, xs0, xs1, f, f_ok, lo, hi, start, end,
    BLOCK_M: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,
):  # fmt: skip
    """``sum(values[e] * X[col[e], f])`` over each row's edges ``[lo, hi)`` of the block's ``[start, end)``:
    ``[BLOCK_M, BLOCK_F]`` float32. Edges in chunks of ``BLOCK_E`` whatever row each is in: per chunk one
    load of its indices, one of its values, one gather of its rows of X (``BLOCK_E x BLOCK_F``), a float32
    sum of the products along the edges that restarts at each row's first edge (a segmented scan), and each
    row's part of the chunk the scan at its last edge there (one ``tl.gather``)."""
    acc = tl.zeros([BLOCK_M, BLOCK_F], dtype=tl.float32)
    k = tl.arange(0, BLOCK_E)
    for e0 in range(start, end, BLOCK_E):
        e = e0 + k
        e_ok = e < end
        cols = tl.load(col_ptr + e * col_s, mask=e_ok, other=0).to(tl.int64)
        vals = tl.load(val_ptr + e * val_s, mask=e_ok, other=0.0).to(tl.float32)
        x_ok = e_ok[:, None] & f_ok[None, :]
        xv = tl.load(x_ptr + cols[:, None] * xs0 + f[None, :] * xs1, mask=x_ok, other=0.0).to(tl.float32)
        # each row's edges within the chunk, [first, last), clamped to it (int32)
        first = tl.minimum(tl.maximum(lo - e0, 0), BLOCK_E).to(tl.int32)
        last = tl.minimum(tl.maximum(hi - e0, 0), BLOCK_E).to(tl.int32)
        has = last > first
        # 1 at the chunk's edges that start a row (the chunk's first edge starts a segment anyway)
        starts = tl.histogram(first, BLOCK_E, mask=has) > 0
        flags = tl.broadcast_to(starts.to(tl.int32)[:, None], [BLOCK_E, BLOCK_F])
        run, _ = tl.associative_scan((vals[:, None] * xv, flags), axis=0, combine_fn=segment_add)
        at = tl.broadcast_to(tl.where(has, last - 1, 0)[:, None], [BLOCK_M, BLOCK_F])
        acc += tl.where(has[:, None], tl.gather(run, at, axis=0), 0.0)
    return acc


CSR_SOURCE = "\n\n".join(inspect.getsource(fn.fn) for fn in (csr_rows, segment_add, csr_aggregate))
"""``csr_rows``, ``segment_add`` and ``csr_aggregate`` as emitted into a candidate (once)."""


def chunk_edges(bf: str, nnz: str, n: str, block_m: int, values: int) -> str:
    """The launcher's expression for ``BLOCK_E``, the edges a chunk: a row block's average edges
    (``block_m * nnz / n``, to a power of two: a program's edges one chunk on average, so the rows of X they
    name are one gather), at most ``values // bf`` (the chunk's ``BLOCK_E x BLOCK_F`` values bound its
    registers), at least 16."""
    average = f"triton.next_power_of_2(max(1, {block_m} * {nnz} // max(1, {n})))"
    return f"max(16, min({values} // {bf}, {average}))"


def _csr_operands(node: Node, ctx: Ctx, p: str) -> list[str]:
    """The launcher's lines naming the CSR arrays ``{p}crow, {p}col, {p}val`` and ``{p}N``, its rows."""
    crow, col, values = (ctx.var(node.operands[k]) for k in ("crow", "col", "values"))  # type: ignore[arg-type]
    return [f"{p}crow, {p}col, {p}val = {crow}, {col}, {values}", f"{p}N = {p}crow.shape[0] - 1"]


CSR_ARGS = "{p}crow, {p}crow.stride(0), {p}col, {p}col.stride(0), {p}val, {p}val.stride(0), "
"""The CSR arrays as launch arguments (``crow_ptr, crow_s, col_ptr, col_s, val_ptr, val_s``)."""
CSR_PARAMS = "crow_ptr, crow_s, col_ptr, col_s, val_ptr, val_s, "


def _sizes(ctx: Ctx) -> tuple[int, int, int]:
    """The profile's ``block_m`` and ``block_f``, and the values a chunk may hold: ``block_e x block_f``,
    and at 8 warps or more at least ``CHUNK_VALUES_A_THREAD`` a thread."""
    get = ctx.params.get
    bm, be, bf, num_warps = (
        int(get(k, d)) for k, d in (("block_m", 16), ("block_e", 64), ("block_f", 64), ("num_warps", 4))
    )
    values = max(be * bf, CHUNK_VALUES_A_THREAD * 32 * num_warps) if num_warps >= 8 else be * bf
    return bm, values, bf


def emit_spmm(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    """y = A X (A in CSR), with a fused epilogue: grid (row blocks, feature blocks)."""
    p = f"n{node.id}_"
    epi = Epilogue(node.epilogue, 2)
    bm, values, bf = _sizes(ctx)
    lines = [
        *_csr_operands(node, ctx, p),
        f"{p}x = {ctx.var(node.operands['x'])}",  # type: ignore[arg-type]
        f"{p}F = {p}x.shape[1]",
        f"{p}shape = ({p}N, {p}F)",
        *epi.output(ctx, alloc, p),
        f"{p}bf = {block(f'{p}F', bf, 16)}",
        f"{p}be = {chunk_edges(f'{p}bf', f'{p}col.shape[0]', f'{p}N', bm, values)}",
        f"{p}grid = (triton.cdiv({p}N, {bm}), triton.cdiv({p}F, {p}bf))",
        f"{ctx.name}[{p}grid](" + CSR_ARGS.format(p=p) + f"{p}x, *{p}x.stride(), {out}, *{out}.stride(), {p}N, {p}F, "
        + epi.call_args(p)
        + f"BLOCK_M={bm}, BLOCK_E={p}be, BLOCK_F={p}bf, {warps(ctx.params)})",
    ]  # fmt: skip
    kernel = "\n".join(
        [
            *epi.kernel_head(
                ctx.name,
                [CSR_PARAMS + "x_ptr, xs0, xs1, y_ptr, ys0, ys1, N, F,"],
                ["BLOCK_M: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,"],
            ),
            '    """A block of rows by a block of features of A X."""',
            "    r, r_ok, lo, hi, start, end = csr_rows(crow_ptr, crow_s, N, BLOCK_M)",
            "    f = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)",
            "    f_ok = f < F",
            "    acc = csr_aggregate(",
            "        col_ptr, col_s, val_ptr, val_s, x_ptr, xs0, xs1, f, f_ok, lo, hi, start, end,",
            "        BLOCK_M, BLOCK_E, BLOCK_F,",
            "    )",
            "    ok = r_ok[:, None] & f_ok[None, :]",
            *epi.body(["r[:, None]", "f[None, :]"], "ok"),
            "    tl.store(y_ptr + r[:, None] * ys0 + f[None, :] * ys1, acc.to(y_ptr.dtype.element_ty), mask=ok)",
        ]
    )
    return kernel, lines


def emit_spmm_mm(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    """y = A (X W) (A in CSR, operands ``crow, col, values, x, w``) with a fused epilogue: the fused
    kernel where, at run time, ``F_out <= FUSE_MAX_OUT`` and ``F_in <= FUSE_MAX_RATIO * F_out``, else the
    matmul and the SpMM (``ctx.params["matmul"]``: the matmul's tuning settings)."""
    p = f"n{node.id}_"
    fused, fused_lines = _emit_fused(node, ctx, out, alloc)
    project, aggregate, h = _unfused_nodes(node)
    mm_ctx = Ctx(var=ctx.var, params=ctx.params.get("matmul", {}), name=f"{ctx.name}_project")
    sp_ctx = Ctx(var=ctx.var, params=ctx.params, name=f"{ctx.name}_aggregate")
    h_alloc = f"{h} = torch.empty({{shape}}, device={p}x.device, dtype=torch.float32)"
    mm_kernel, mm_lines = emit_matmul(project, mm_ctx, h, h_alloc)
    sp_kernel, sp_lines = emit_spmm(aggregate, sp_ctx, out, alloc)
    lines = [
        f"{p}x, {p}w = {ctx.var(node.operands['x'])}, {ctx.var(node.operands['w'])}",  # type: ignore[arg-type]
        f"if {p}w.shape[1] <= {FUSE_MAX_OUT} and {p}x.shape[1] <= {FUSE_MAX_RATIO} * {p}w.shape[1]:",
        *("    " + line for line in fused_lines),
        "else:  # aggregating first would gather much wider rows: X W, then A (X W)",
        *("    " + line for line in mm_lines + sp_lines),
    ]  # fmt: skip
    return "\n\n\n".join([fused, mm_kernel, sp_kernel]), lines


def _unfused_nodes(node: Node) -> tuple[Node, Node, str]:
    """The two-kernel form of ``node``: the matmul X W (into ``y<id>``, the name returned), then the SpMM
    over it with ``node``'s epilogue."""
    h = node.id + 20_000
    project = Node(id=h, kind="matmul", shape=None, operands={"a": node.operands["x"], "b": node.operands["w"]})
    operands = {**{k: node.operands[k] for k in ("crow", "col", "values")}, "x": NodeRef(h)}
    aggregate = Node(id=node.id + 30_000, kind="spmm", shape=node.shape, operands=operands, epilogue=node.epilogue)
    return project, aggregate, f"y{h}"


def _emit_fused(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    """The fused kernel: a program's ``BLOCK_M`` rows of (A X) W, every output feature (``BLOCK_F``, at
    most ``FUSE_MAX_OUT``); X aggregated ``BLOCK_K`` input features at a time and multiplied by those
    rows of W with ``tl.dot``."""
    p = f"n{node.id}_"
    epi = Epilogue(node.epilogue, 2)
    bm, values, bf = _sizes(ctx)
    lines = [
        *_csr_operands(node, ctx, p),
        f"{p}K, {p}F = {p}w.shape",
        f"{p}shape = ({p}N, {p}F)",
        *epi.output(ctx, alloc, p),
        f"{p}bk, {p}bf = {block(f'{p}K', bf, 16)}, {block(f'{p}F', FUSE_MAX_OUT, 16)}",
        f"{p}be = {chunk_edges(f'{p}bk', f'{p}col.shape[0]', f'{p}N', bm, values)}",
        f"{p}dp = {FP32_DOT_PRECISION!r}  # the aggregated sums are float32 whatever X's dtype",
        f"{ctx.name}[(triton.cdiv({p}N, {bm}),)](" + CSR_ARGS.format(p=p)
        + f"{p}x, *{p}x.stride(), {p}w, *{p}w.stride(), {out}, *{out}.stride(), {p}N, {p}K, {p}F, "
        + epi.call_args(p)
        + f"BLOCK_M={bm}, BLOCK_E={p}be, BLOCK_K={p}bk, BLOCK_F={p}bf, DOT_PRECISION={p}dp, {warps(ctx.params)})",
    ]  # fmt: skip
    kernel = "\n".join(
        [
            *epi.kernel_head(
                ctx.name,
                [CSR_PARAMS + "x_ptr, xs0, xs1, w_ptr, ws0, ws1, y_ptr, ys0, ys1, N, K, F,"],
                [
                    "BLOCK_M: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_F: tl.constexpr,",
                    "DOT_PRECISION: tl.constexpr,",
                ],
            ),
            '    """A block of rows of (A X) W: A X over BLOCK_K input features at a time, times those rows of W."""',
            "    r, r_ok, lo, hi, start, end = csr_rows(crow_ptr, crow_s, N, BLOCK_M)",
            "    f = tl.arange(0, BLOCK_F)",
            "    f_ok = f < F",
            "    acc = tl.zeros([BLOCK_M, BLOCK_F], dtype=tl.float32)",
            "    for k0 in range(0, K, BLOCK_K):",
            "        kk = k0 + tl.arange(0, BLOCK_K)",
            "        k_ok = kk < K",
            "        ax = csr_aggregate(",
            "            col_ptr, col_s, val_ptr, val_s, x_ptr, xs0, xs1, kk, k_ok, lo, hi, start, end,",
            "            BLOCK_M, BLOCK_E, BLOCK_K,",
            "        )",
            "        w = tl.load(w_ptr + kk[:, None] * ws0 + f[None, :] * ws1, mask=k_ok[:, None] & f_ok[None, :],",
            "                    other=0.0).to(tl.float32)",
            "        acc += tl.dot(ax, w, input_precision=DOT_PRECISION)",
            "    ok = r_ok[:, None] & f_ok[None, :]",
            *epi.body(["r[:, None]", "f[None, :]"], "ok"),
            "    tl.store(y_ptr + r[:, None] * ys0 + f[None, :] * ys1, acc.to(y_ptr.dtype.element_ty), mask=ok)",
        ]
    )
    return kernel, lines
