"""CSR sparse x dense (SpMM): one program per (row, block of feature columns).

Each program walks its row's edges in blocks of BLOCK_E, gathers the rows of X the column indices
name, scales them by the edge values and reduces over the block in float32. int32 or int64 indices;
the GCN layer is a matmul node (X W^T) feeding this one, with the bias in this kernel's epilogue.
"""

from __future__ import annotations

from agents.template.ir import Node
from agents.template.templates.common import Ctx, Epilogue, block, warps


def emit_spmm(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    p = f"n{node.id}_"
    epi = Epilogue(node.epilogue, 2)
    crow, col, values, x = (ctx.var(node.operands[k]) for k in ("crow", "col", "values", "x"))  # type: ignore[arg-type]
    be, bf = int(ctx.params.get("block_e", 16)), int(ctx.params.get("block_f", 64))
    lines = [
        f"{p}crow, {p}col, {p}val, {p}x = {crow}, {col}, {values}, {x}",
        f"{p}N = {p}crow.shape[0] - 1",
        f"{p}F = {p}x.shape[1]",
        f"{p}shape = ({p}N, {p}F)",
        alloc.format(shape=f"{p}shape"),
        *epi.prelude(ctx, f"{p}shape", p),
        f"{p}bf = {block(f'{p}F', bf)}",
        f"{p}grid = ({p}N, triton.cdiv({p}F, {p}bf))",
        f"{ctx.name}[{p}grid]({p}crow, {p}crow.stride(0), {p}col, {p}col.stride(0), {p}val, {p}val.stride(0), "
        f"{p}x, *{p}x.stride(), {out}, *{out}.stride(), {p}F, "
        + epi.call_args(p)
        + f"BLOCK_E={be}, BLOCK_F={p}bf, {warps(ctx.params)})",
    ]
    kernel = "\n".join(
        [
            "@triton.jit",
            f"def {ctx.name}(",
            "    crow_ptr, crow_s, col_ptr, col_s, val_ptr, val_s, x_ptr, xs0, xs1, y_ptr, ys0, ys1, F,",
            "    " + epi.kernel_params(),
            "    BLOCK_E: tl.constexpr, BLOCK_F: tl.constexpr,",
            "):",
            "    row = tl.program_id(0)",
            "    start = tl.load(crow_ptr + row * crow_s).to(tl.int64)",
            "    end = tl.load(crow_ptr + (row + 1) * crow_s).to(tl.int64)",
            "    f = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)",
            "    f_ok = f < F",
            "    acc = tl.zeros([BLOCK_F], dtype=tl.float32)",
            "    for e0 in range(start, end, BLOCK_E):",
            "        e = e0 + tl.arange(0, BLOCK_E)",
            "        e_ok = e < end",
            "        cols = tl.load(col_ptr + e * col_s, mask=e_ok, other=0).to(tl.int64)",
            "        vals = tl.load(val_ptr + e * val_s, mask=e_ok, other=0.0).to(tl.float32)",
            "        xv = tl.load(x_ptr + cols[:, None] * xs0 + f[None, :] * xs1, mask=e_ok[:, None] & f_ok[None, :],",
            "                     other=0.0)",
            "        acc += tl.sum(xv.to(tl.float32) * vals[:, None], axis=0)",
            *epi.body(["row", "f"], "f_ok"),
            "    tl.store(y_ptr + row * ys0 + f * ys1, acc.to(y_ptr.dtype.element_ty), mask=f_ok)",
        ]
    )
    return kernel, lines
