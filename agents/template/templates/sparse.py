"""CSR sparse x dense (SpMM): row-blocked, the dense feature dimension the vectorised axis.

A program takes ``BLOCK_M`` consecutive rows and a block of ``BLOCK_F`` feature columns. Their edges
are one contiguous range of the CSR arrays (``crow[r0]`` to ``crow[r0 + BLOCK_M]``), walked in chunks of
``BLOCK_E`` edges whatever row each belongs to: the column indices and values of a chunk are one
contiguous load (not a partial sector per short row), the rows of X they name one gather of
``BLOCK_E x BLOCK_F`` (a column named twice in a chunk, as hubs are in power-law graphs, is one
request). The chunk's products ``values[e] * X[col[e]]`` are summed along its edges (``tl.cumsum``, in
float64), and each row's sum in the chunk is the difference of the running sum at its last edge and
before its first (two ``tl.gather``s), added into the block's rows in float32: each edge's multiply-add
once, no ``BLOCK_M x BLOCK_E`` tile (the one-hot ``tl.dot`` this replaced did ``BLOCK_M`` times the work
and took 219 registers at ``BLOCK_E`` 64). ``BLOCK_E`` is the profile's ``block_e`` at its widest
``block_f`` and grows as the feature block narrows (the same ``BLOCK_E x BLOCK_F`` values a chunk): narrow
features take longer chunks, so more of a program's repeated columns are one request. ``crow`` is read
once per block, in one load of its ``BLOCK_M + 1`` bounds. int32 or int64 indices; the GCN layer is a
matmul node (X W^T) feeding this one, with the bias in this kernel's epilogue.
"""

from __future__ import annotations

from agents.template.ir import Node
from agents.template.templates.common import Ctx, Epilogue, block, warps


def emit_spmm(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    p = f"n{node.id}_"
    epi = Epilogue(node.epilogue, 2)
    crow, col, values, x = (ctx.var(node.operands[k]) for k in ("crow", "col", "values", "x"))  # type: ignore[arg-type]
    bm, be, bf = (
        int(ctx.params.get("block_m", 16)),
        int(ctx.params.get("block_e", 64)),
        int(ctx.params.get("block_f", 64)),
    )
    lines = [
        f"{p}crow, {p}col, {p}val, {p}x = {crow}, {col}, {values}, {x}",
        f"{p}N = {p}crow.shape[0] - 1",
        f"{p}F = {p}x.shape[1]",
        f"{p}shape = ({p}N, {p}F)",
        alloc.format(shape=f"{p}shape"),
        *epi.prelude(ctx, f"{p}shape", p),
        f"{p}bf = {block(f'{p}F', bf, 16)}",
        f"{p}be = max(16, {be * bf} // {p}bf)",
        f"{p}grid = (triton.cdiv({p}N, {bm}), triton.cdiv({p}F, {p}bf))",
        f"{ctx.name}[{p}grid]({p}crow, {p}crow.stride(0), {p}col, {p}col.stride(0), {p}val, {p}val.stride(0), "
        f"{p}x, *{p}x.stride(), {out}, *{out}.stride(), {p}N, {p}F, "
        + epi.call_args(p)
        + f"BLOCK_M={bm}, BLOCK_E={p}be, BLOCK_F={p}bf, {warps(ctx.params)})",
    ]
    kernel = "\n".join(
        [
            "@triton.jit",
            f"def {ctx.name}(",
            "    crow_ptr, crow_s, col_ptr, col_s, val_ptr, val_s, x_ptr, xs0, xs1, y_ptr, ys0, ys1, N, F,",
            "    " + epi.kernel_params(),
            "    BLOCK_M: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,",
            "):",
            "    r0 = tl.program_id(0).to(tl.int64) * BLOCK_M",
            "    r = r0 + tl.arange(0, BLOCK_M)",
            "    r_ok = r < N",
            # crow[r0 .. r0 + BLOCK_M] in one load; each row's start and end taken from it with tl.gather
            "    j = tl.arange(0, 2 * BLOCK_M)",
            "    j_ok = (j <= BLOCK_M) & (r0 + j <= N)",
            "    bounds = tl.load(crow_ptr + (r0 + j) * crow_s, mask=j_ok, other=0).to(tl.int64)",
            "    lo = tl.gather(bounds, tl.arange(0, BLOCK_M), axis=0)",
            "    hi = tl.where(r_ok, tl.gather(bounds, tl.arange(0, BLOCK_M) + 1, axis=0), 0)",
            "    start = tl.sum(tl.where(r == r0, lo, 0), axis=0)  # the first row's first edge",
            "    end = tl.max(hi, axis=0)  # the last row's end (crow never decreases)",
            "    f = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)",
            "    f_ok = f < F",
            "    acc = tl.zeros([BLOCK_M, BLOCK_F], dtype=tl.float32)",
            "    k = tl.arange(0, BLOCK_E)",
            "    for e0 in range(start, end, BLOCK_E):",
            "        e = e0 + k",
            "        e_ok = e < end",
            "        cols = tl.load(col_ptr + e * col_s, mask=e_ok, other=0).to(tl.int64)",
            "        vals = tl.load(val_ptr + e * val_s, mask=e_ok, other=0.0).to(tl.float32)",
            "        xv = tl.load(x_ptr + cols[:, None] * xs0 + f[None, :] * xs1, mask=e_ok[:, None] & f_ok[None, :],",
            "                     other=0.0).to(tl.float32)",
            # each row's edges within the chunk, [first, last), clamped to it (int32)
            "        first = tl.minimum(tl.maximum(lo - e0, 0), BLOCK_E).to(tl.int32)",
            "        last = tl.minimum(tl.maximum(hi - e0, 0), BLOCK_E).to(tl.int32)",
            # the chunk's running sum along its edges, in float64 (a row's sum is a difference of two)
            "        run = tl.cumsum((vals[:, None] * xv).to(tl.float64), axis=0)",
            "        has = last > first",
            "        at = tl.broadcast_to(tl.where(has, last - 1, 0)[:, None], [BLOCK_M, BLOCK_F])",
            "        upto = tl.gather(run, at, axis=0)",
            "        at = tl.broadcast_to(tl.maximum(first - 1, 0)[:, None], [BLOCK_M, BLOCK_F])",
            "        part = upto - tl.where(first[:, None] > 0, tl.gather(run, at, axis=0), 0.0)",
            "        acc += tl.where(has[:, None], part, 0.0).to(tl.float32)",
            "    ok = r_ok[:, None] & f_ok[None, :]",
            *epi.body(["r[:, None]", "f[None, :]"], "ok"),
            "    tl.store(y_ptr + r[:, None] * ys0 + f[None, :] * ys1, acc.to(y_ptr.dtype.element_ty), mask=ok)",
        ]
    )
    return kernel, lines
