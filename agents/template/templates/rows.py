"""Row-wise kernels over the last dim (softmax, layer norm) and the elementwise kernel.

Row kernels compute in float32 and are real ``@triton.jit`` functions emitted by their source
(``ROWS_SOURCES``). A row of up to ``row_elements`` values (the profile's) is kept whole in registers,
several rows a program when they are short (layer norm's weight and bias loaded once for them); a
longer row is looped over in chunks (online softmax; Welford statistics for layer norm), which reads
it twice instead of spilling a row-sized block.
The elementwise kernel evaluates any ``Expr`` over a flat index decomposed into the output's dims,
reading every operand through its (broadcast) strides, and writes through the output's strides, so
it also fills a channel slice of a concatenation; when the output and every operand are contiguous in
the output's shape (``FLAT``, decided at launch) the flat index is used as it is, with no 64-bit
division per dim.
"""

from __future__ import annotations

import inspect

import triton
import triton.language as tl

from agents.template.ir import Node
from agents.template.templates.common import Ctx, Epilogue, block, warps


@triton.jit
def softmax_rows(x_ptr, y_ptr, R, N, BLOCK_R: tl.constexpr, BLOCK_N: tl.constexpr):
    """Softmax of BLOCK_R whole rows of a contiguous (R, N) tensor, each row in registers."""
    rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_N)
    ok = (rows < R)[:, None] & (cols < N)[None, :]
    offs = rows[:, None] * N + cols[None, :]
    xv = tl.load(x_ptr + offs, mask=ok, other=-float("inf")).to(tl.float32)
    xv = xv - tl.max(xv, axis=1)[:, None]
    num = tl.where(ok, tl.exp(xv), 0.0)
    acc = num / tl.sum(num, axis=1)[:, None]
    tl.store(y_ptr + offs, acc.to(y_ptr.dtype.element_ty), mask=ok)


@triton.jit
def softmax_rows_looped(x_ptr, y_ptr, N, BLOCK_N: tl.constexpr):
    """Softmax of a row too long for registers: an online max and sum over chunks, then one more
    pass that writes (two reads and one write of the row)."""
    base = tl.program_id(0).to(tl.int64) * N
    m = tl.full([BLOCK_N], -float("inf"), tl.float32)
    s = tl.zeros([BLOCK_N], dtype=tl.float32)
    for n0 in range(0, N, BLOCK_N):
        cols = n0 + tl.arange(0, BLOCK_N)
        xv = tl.load(x_ptr + base + cols, mask=cols < N, other=-float("inf")).to(tl.float32)
        m_new = tl.maximum(m, xv)
        live = m_new > -float("inf")
        s = tl.where(live, s * tl.exp(m - m_new) + tl.exp(xv - m_new), 0.0)
        m = m_new
    top = tl.max(m, axis=0)
    total = tl.sum(tl.where(m > -float("inf"), s * tl.exp(m - top), 0.0), axis=0)
    for n0 in range(0, N, BLOCK_N):
        cols = n0 + tl.arange(0, BLOCK_N)
        xv = tl.load(x_ptr + base + cols, mask=cols < N, other=-float("inf")).to(tl.float32)
        tl.store(y_ptr + base + cols, (tl.exp(xv - top) / total).to(y_ptr.dtype.element_ty), mask=cols < N)


@triton.jit
def layernorm_rows(
    x_ptr,
    y_ptr,
    R,
    N,
    w_ptr,
    b_ptr,
    eps,
    HAS_W: tl.constexpr,
    HAS_B: tl.constexpr,
    BLOCK_R: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    """Layer norm of BLOCK_R whole rows over their N values (biased variance); the weight and bias are
    loaded once for the BLOCK_R rows."""
    rows = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.arange(0, BLOCK_N)
    col_ok = cols < N
    ok = (rows < R)[:, None] & col_ok[None, :]
    offs = rows[:, None] * N + cols[None, :]
    xv = tl.load(x_ptr + offs, mask=ok, other=0.0).to(tl.float32)
    mean = tl.sum(xv, axis=1) / N
    d = tl.where(ok, xv - mean[:, None], 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(d * d, axis=1) / N + eps)
    acc = d * rstd[:, None]
    if HAS_W:
        acc = acc * tl.load(w_ptr + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    if HAS_B:
        acc = acc + tl.load(b_ptr + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    tl.store(y_ptr + offs, acc.to(y_ptr.dtype.element_ty), mask=ok)


@triton.jit
def layernorm_rows_looped(
    x_ptr, y_ptr, N, w_ptr, b_ptr, eps, HAS_W: tl.constexpr, HAS_B: tl.constexpr, BLOCK_N: tl.constexpr
):
    """Layer norm of a row too long for registers: per-lane Welford statistics over chunks, merged
    across lanes (Chan et al.), then one more pass that normalises and writes."""
    base = tl.program_id(0).to(tl.int64) * N
    count = tl.zeros([BLOCK_N], dtype=tl.float32)
    mean = tl.zeros([BLOCK_N], dtype=tl.float32)
    m2 = tl.zeros([BLOCK_N], dtype=tl.float32)
    for n0 in range(0, N, BLOCK_N):
        cols = n0 + tl.arange(0, BLOCK_N)
        ok = cols < N
        xv = tl.load(x_ptr + base + cols, mask=ok, other=0.0).to(tl.float32)
        count += tl.where(ok, 1.0, 0.0)
        delta = tl.where(ok, xv - mean, 0.0)
        mean += delta / tl.maximum(count, 1.0)
        m2 += delta * tl.where(ok, xv - mean, 0.0)
    row_mean = tl.sum(count * mean, axis=0) / N
    spread = mean - row_mean
    rstd = 1.0 / tl.sqrt((tl.sum(m2, axis=0) + tl.sum(count * spread * spread, axis=0)) / N + eps)
    for n0 in range(0, N, BLOCK_N):
        cols = n0 + tl.arange(0, BLOCK_N)
        ok = cols < N
        acc = (tl.load(x_ptr + base + cols, mask=ok, other=0.0).to(tl.float32) - row_mean) * rstd
        if HAS_W:
            acc = acc * tl.load(w_ptr + cols, mask=ok, other=0.0).to(tl.float32)
        if HAS_B:
            acc = acc + tl.load(b_ptr + cols, mask=ok, other=0.0).to(tl.float32)
        tl.store(y_ptr + base + cols, acc.to(y_ptr.dtype.element_ty), mask=ok)


ROWS_SOURCES = {
    "softmax": inspect.getsource(softmax_rows.fn) + "\n\n" + inspect.getsource(softmax_rows_looped.fn),
    "layernorm": inspect.getsource(layernorm_rows.fn) + "\n\n" + inspect.getsource(layernorm_rows_looped.fn),
}
"""The row kernels as emitted into a candidate (each once, whatever the number of nodes using it)."""

ROW_ELEMENTS = 4096
"""Default most elements a program keeps in registers (the whole-row kernels' tile); longer rows take
the looped kernels. Profiles set ``row_elements`` (scaled with their warps)."""


def emit_softmax(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    return _emit_rows(node, ctx, out, alloc, "softmax")


def emit_layernorm(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    return _emit_rows(node, ctx, out, alloc, "layernorm")


def contiguous_input(x: str, alloc: str, p: str) -> list[str]:
    """Launch lines: ``{p}x``, the input ``x`` made contiguous, its shape ``{p}shape``, and the output
    allocated (``alloc``) at that shape (the row kernels and the fused normalisations)."""
    return [f"{p}x = {x}.contiguous()", f"{p}shape = tuple({p}x.shape)", alloc.format(shape=f"{p}shape")]


def _emit_rows(node: Node, ctx: Ctx, out: str, alloc: str, kind: str) -> tuple[str, list[str]]:
    """Launch lines of the row kernels; no kernel of its own (empty source). A row of at most
    ``row_elements`` values is kept in registers, with as many rows a program as fit there; a longer
    one is looped over in chunks of that many."""
    p = f"n{node.id}_"
    x = ctx.var(node.operands["x"])  # type: ignore[arg-type]
    cap = int(ctx.params.get("row_elements", ROW_ELEMENTS))
    lines = [
        *contiguous_input(x, alloc, p),
        f"{p}N = {p}shape[-1]",
        f"{p}R = {p}x.numel() // max(1, {p}N)",
        f"{p}bn = triton.next_power_of_2(max(1, {p}N))",
        f"{p}br = max(1, min({cap} // {p}bn, triton.next_power_of_2(max(1, {p}R))))",
    ]
    launch = warps(ctx.params)
    if kind == "softmax":
        lines += [
            f"if {p}bn <= {cap}:",
            f"    softmax_rows[(triton.cdiv({p}R, {p}br),)]({p}x, {out}, {p}R, {p}N, BLOCK_R={p}br, BLOCK_N={p}bn, "
            f"{launch})",
            "else:",
            f"    softmax_rows_looped[({p}R,)]({p}x, {out}, {p}N, BLOCK_N={cap}, {launch})",
        ]
    else:
        w, b = node.operands.get("weight"), node.operands.get("bias")
        common = (
            f"{ctx.var(w) if w is not None else p + 'x'}, {ctx.var(b) if b is not None else p + 'x'}, "
            f"{float(node.attrs['eps'])!r}, HAS_W={w is not None}, HAS_B={b is not None}"
        )
        lines += [
            f"if {p}bn <= {cap}:",
            f"    layernorm_rows[(triton.cdiv({p}R, {p}br),)]({p}x, {out}, {p}R, {p}N, {common}, BLOCK_R={p}br, "
            f"BLOCK_N={p}bn, {launch})",
            "else:",
            f"    layernorm_rows_looped[({p}R,)]({p}x, {out}, {p}N, {common}, BLOCK_N={cap}, {launch})",
        ]
    return "", lines


def emit_ewise(node: Node, ctx: Ctx, out: str, alloc: str, shape_code: str) -> tuple[str, list[str]]:
    """``shape_code``: the output shape (the broadcast of the operands' shapes, or a slice's)."""
    p = f"n{node.id}_"
    rank = node.rank or 1
    epi = Epilogue(node.epilogue, rank)
    lines = [
        f"{p}shape = tuple({shape_code})",
        alloc.format(shape=f"{p}shape"),
        # a 0-dim result (a loss, say) is written through a 1-element view
        f"{p}y = {out} if len({p}shape) else {out}.view(1)",
        f"{p}shape = {p}shape or (1,)",
        *epi.prelude(ctx, f"{p}shape", p),
        f"{p}numel = {p}y.numel()",
        f"{p}bs = {block(f'{p}numel', int(ctx.params.get('block', 1024)), 16)}",
        f"{p}flat = {p}y.is_contiguous()" + "".join(f" and {p}e{k}.is_contiguous()" for k in range(len(epi.inputs))),
        f"{ctx.name}[(triton.cdiv({p}numel, {p}bs),)]({p}y, *{p}y.stride(), {p}numel, *{p}shape, "
        + epi.call_args(p)
        + f"FLAT={p}flat, BLOCK={p}bs, {warps(ctx.params)})",
    ]
    index = [f"i{d}" for d in range(rank)]
    decompose = ["    rem = offs"]
    for d in reversed(range(rank)):
        if d == 0:
            decompose.append("    i0 = rem")
        else:
            decompose += [f"    i{d} = rem % S{d}", f"    rem = rem // S{d}"]
    kernel = "\n".join(
        [
            *epi.kernel_head(
                ctx.name,
                [
                    "y_ptr, " + "".join(f"ys{d}, " for d in range(rank)) + "numel, ",
                    "".join(f"S{d}, " for d in range(rank)),
                ],
                ["FLAT: tl.constexpr, BLOCK: tl.constexpr,"],
            ),
            "    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
            "    ok = offs < numel",
            "    acc = tl.zeros([BLOCK], dtype=tl.float32)",
            "    if FLAT:  # output and inputs contiguous in one shape: the flat offset is every index",
            *epi.body(index, "ok", indent="        ", flat="offs"),
            "        tl.store(y_ptr + offs, acc.to(y_ptr.dtype.element_ty), mask=ok)",
            "    else:",
            *["    " + line for line in decompose],
            *epi.body(index, "ok", indent="        "),
            "        y_offs = " + " + ".join(f"i{d} * ys{d}" for d in range(rank)),
            "        tl.store(y_ptr + y_offs, acc.to(y_ptr.dtype.element_ty), mask=ok)",
        ]
    )
    return kernel, lines
