"""Row-wise kernels over the last dim (softmax, layer norm) and the elementwise kernel.

Row kernels keep a whole row in registers (BLOCK_N = next power of two of the row length) and
compute in float32; they are real ``@triton.jit`` functions emitted by their source (``ROWS_SOURCES``).
The elementwise kernel evaluates any ``Expr`` over a flat index decomposed into the output's dims,
reading every operand through its (broadcast) strides, and writes through the output's strides, so
it also fills a channel slice of a concatenation.
"""

from __future__ import annotations

import inspect

import triton
import triton.language as tl

from agents.template.ir import Node
from agents.template.templates.common import Ctx, Epilogue, block, warps


@triton.jit
def softmax_rows(x_ptr, y_ptr, N, BLOCK_N: tl.constexpr):
    """Softmax of row ``program_id`` of a contiguous (R, N) tensor, the whole row in registers."""
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_N)
    ok = cols < N
    xv = tl.load(x_ptr + row * N + cols, mask=ok, other=-float("inf")).to(tl.float32)
    xv = xv - tl.max(xv, axis=0)
    num = tl.where(ok, tl.exp(xv), 0.0)
    acc = num / tl.sum(num, axis=0)
    tl.store(y_ptr + row * N + cols, acc.to(y_ptr.dtype.element_ty), mask=ok)


@triton.jit
def layernorm_rows(x_ptr, y_ptr, N, w_ptr, b_ptr, eps, HAS_W: tl.constexpr, HAS_B: tl.constexpr, BLOCK_N: tl.constexpr):
    """Layer norm of row ``program_id`` over its N values (biased variance), optional weight and bias."""
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_N)
    ok = cols < N
    xv = tl.load(x_ptr + row * N + cols, mask=ok, other=0.0).to(tl.float32)
    mean = tl.sum(xv, axis=0) / N
    d = tl.where(ok, xv - mean, 0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(d * d, axis=0) / N + eps)
    acc = d * rstd
    if HAS_W:
        acc = acc * tl.load(w_ptr + cols, mask=ok, other=0.0).to(tl.float32)
    if HAS_B:
        acc = acc + tl.load(b_ptr + cols, mask=ok, other=0.0).to(tl.float32)
    tl.store(y_ptr + row * N + cols, acc.to(y_ptr.dtype.element_ty), mask=ok)


ROWS_SOURCES = {"softmax": inspect.getsource(softmax_rows.fn), "layernorm": inspect.getsource(layernorm_rows.fn)}
"""The row kernels as emitted into a candidate (each once, whatever the number of nodes using it)."""


def emit_softmax(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    return _emit_rows(node, ctx, out, alloc, "softmax")


def emit_layernorm(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    return _emit_rows(node, ctx, out, alloc, "layernorm")


def _emit_rows(node: Node, ctx: Ctx, out: str, alloc: str, kind: str) -> tuple[str, list[str]]:
    """Launch lines of ``softmax_rows`` / ``layernorm_rows``; no kernel of its own (empty source)."""
    p = f"n{node.id}_"
    x = ctx.var(node.operands["x"])  # type: ignore[arg-type]
    lines = [
        f"{p}x = {x}.contiguous()",
        f"{p}shape = tuple({p}x.shape)",
        alloc.format(shape=f"{p}shape"),
        f"{p}N = {p}shape[-1]",
        f"{p}R = {p}x.numel() // max(1, {p}N)",
        f"{p}bn = triton.next_power_of_2(max(1, {p}N))",
    ]
    if kind == "softmax":
        lines.append(f"softmax_rows[({p}R,)]({p}x, {out}, {p}N, BLOCK_N={p}bn, {warps(ctx.params)})")
    else:
        w, b = node.operands.get("weight"), node.operands.get("bias")
        lines.append(
            f"layernorm_rows[({p}R,)]({p}x, {out}, {p}N, {ctx.var(w) if w is not None else p + 'x'}, "
            f"{ctx.var(b) if b is not None else p + 'x'}, {float(node.attrs['eps'])!r}, HAS_W={w is not None}, "
            f"HAS_B={b is not None}, BLOCK_N={p}bn, {warps(ctx.params)})"
        )
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
        f"{ctx.name}[(triton.cdiv({p}numel, {p}bs),)]({p}y, *{p}y.stride(), {p}numel, *{p}shape, "
        + epi.call_args(p)
        + f"BLOCK={p}bs, {warps(ctx.params)})",
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
            "@triton.jit",
            f"def {ctx.name}(",
            "    y_ptr, " + "".join(f"ys{d}, " for d in range(rank)) + "numel, ",
            "    " + "".join(f"S{d}, " for d in range(rank)),
            "    " + epi.kernel_params(),
            "    BLOCK: tl.constexpr,",
            "):",
            "    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
            "    ok = offs < numel",
            *decompose,
            "    acc = tl.zeros([BLOCK], dtype=tl.float32)",
            *epi.body(index, "ok"),
            "    y_offs = " + " + ".join(f"i{d} * ys{d}" for d in range(rank)),
            "    tl.store(y_ptr + y_offs, acc.to(y_ptr.dtype.element_ty), mask=ok)",
        ]
    )
    return kernel, lines
