"""Max and average pooling over 1-3 spatial dims: a program takes a tile of output rows (batch, channel
and the first two output dims flattened) by a block of the last output dim.

The launcher makes the input contiguous, treats missing spatial dims as size 1 (kernel 1, stride 1)
and computes the output size as torch does (floor or ceil mode; a ceil-mode window must start inside
the input or its left padding). For each tap of the first two dims (the first dim's a loop, the
second's unrolled; kernel sizes are compile-time constants) the program loads, per output row, the one
contiguous span of the input row that its block's windows cover (``SPAN`` values: ``(BLOCK_W - 1) *
stride + (kernel - 1) * dilation + 1``, rounded up to a power of two, the lanes past it masked), and
takes the last dim's taps from it with ``tl.gather``: each input element of a span is requested once
per program instead of once per tap (max pooling 1D with 8 taps: 8 loads of the block before). A tap
outside the input is skipped (max: the span's masked lanes are -inf) or counted as padding (average:
``count_include_pad`` counts taps inside the padded input, otherwise only real ones;
``divisor_override`` replaces the count).

``pool_kernel`` is a real ``@triton.jit`` function, emitted into the candidate by its source (once);
the generated code is only its launch.
"""

from __future__ import annotations

import inspect

import triton
import triton.language as tl

from agents.template.ir import Node
from agents.template.templates.common import Ctx, block, warps, window_3d


@triton.jit
def pool_kernel(
    x_ptr, y_ptr, R, I0, I1, I2, O0, O1, O2,
    K0: tl.constexpr, K1: tl.constexpr, K2: tl.constexpr, S0: tl.constexpr, S1: tl.constexpr, S2: tl.constexpr,
    P0: tl.constexpr, P1: tl.constexpr, P2: tl.constexpr, D0: tl.constexpr, D1: tl.constexpr, D2: tl.constexpr,
    IS_MAX: tl.constexpr, COUNT_PAD: tl.constexpr, DIVISOR: tl.constexpr,
    BLOCK_R: tl.constexpr, BLOCK_W: tl.constexpr, SPAN: tl.constexpr,
):  # fmt: skip
    """y[bc, o0, o1, o2] = max or mean of x over the window; ``DIVISOR`` > 0 overrides the count."""
    r = tl.program_id(0).to(tl.int64) * BLOCK_R + tl.arange(0, BLOCK_R)  # output rows (bc, o0, o1)
    r_ok = r < R
    o1 = r % O1
    rem = r // O1
    o0 = rem % O0
    bc = rem // O0
    w0 = tl.program_id(1) * BLOCK_W
    o2 = w0 + tl.arange(0, BLOCK_W)
    ok = r_ok[:, None] & (o2 < O2)[None, :]
    # the input columns the block's windows read: one span from the first window's start
    j = tl.arange(0, SPAN)
    i2 = w0 * S2 - P2 + j
    j_ok = (j < (tl.minimum(BLOCK_W, O2 - w0) - 1) * S2 + (K2 - 1) * D2 + 1) & (i2 >= 0) & (i2 < I2)
    at = tl.broadcast_to((tl.arange(0, BLOCK_W) * S2)[None, :], [BLOCK_R, BLOCK_W])
    if IS_MAX:
        acc = tl.full([BLOCK_R, BLOCK_W], -float("inf"), tl.float32)
    else:
        acc = tl.full([BLOCK_R, BLOCK_W], 0.0, tl.float32)
    cnt = tl.full([BLOCK_R, BLOCK_W], 0.0, tl.float32)
    cnt_pad = tl.full([BLOCK_R, BLOCK_W], 0.0, tl.float32)
    for k0 in range(K0):  # a loop, not unrolled: 3D windows unrolled whole spill on a GPU
        i0 = o0 * S0 - P0 + k0 * D0
        for k1 in tl.static_range(K1):
            i1 = o1 * S1 - P1 + k1 * D1
            row_in = r_ok & (i0 >= 0) & (i0 < I0) & (i1 >= 0) & (i1 < I1)
            row = ((bc * I0 + i0) * I1 + i1) * I2
            span_ok = row_in[:, None] & j_ok[None, :]
            if IS_MAX:
                span = tl.load(x_ptr + row[:, None] + i2[None, :], mask=span_ok, other=-float("inf"))
            else:
                span = tl.load(x_ptr + row[:, None] + i2[None, :], mask=span_ok, other=0.0)
            span = span.to(tl.float32)
            for k2 in tl.static_range(K2):
                v = tl.gather(span, at + k2 * D2, axis=1)
                if IS_MAX:
                    acc = tl.maximum(acc, v)
                else:
                    acc += v
                    t2 = o2 * S2 - P2 + k2 * D2
                    inb = row_in[:, None] & ((t2 >= 0) & (t2 < I2))[None, :]
                    cnt += tl.where(inb, 1.0, 0.0)
                    inpad = ((i0 < I0 + P0) & (i1 < I1 + P1))[:, None] & (t2 < I2 + P2)[None, :]
                    cnt_pad += tl.where(inpad, 1.0, 0.0)
    if not IS_MAX:
        if DIVISOR > 0:
            acc = acc / DIVISOR
        elif COUNT_PAD:
            acc = acc / cnt_pad
        else:
            acc = acc / cnt
    tl.store(y_ptr + r[:, None] * O2 + o2[None, :], acc.to(y_ptr.dtype.element_ty), mask=ok)


POOL_SOURCE = inspect.getsource(pool_kernel.fn)
"""``pool_kernel`` as emitted into a candidate (once, whatever the number of pooling nodes)."""


def emit_pool(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    """Launch lines for ``pool_kernel``; no kernel of its own (the returned kernel source is empty)."""
    p = f"n{node.id}_"
    a = node.attrs
    sd = int(a["spatial"])
    pad3 = 3 - sd
    k, s, pd, dl = window_3d(a, {"kernel": 1, "stride": 1, "padding": 0, "dilation": 1})
    ceil = bool(a.get("ceil_mode"))
    is_max = a["op"] == "max"
    divisor = float(a["divisor"]) if not is_max and a.get("divisor") is not None else 0.0
    count_pad = bool(a.get("count_include_pad", True))
    constexprs = ", ".join(
        f"{name}{d}={v[d]}" for name, v in (("K", k), ("S", s), ("P", pd), ("D", dl)) for d in range(3)
    )
    x = ctx.var(node.operands["x"])  # type: ignore[arg-type]
    bs = int(ctx.params.get("block", 1024))
    lines = [
        f"{p}x = {x}.contiguous()",
        f"{p}I = [1] * {pad3} + list({p}x.shape[2:])",
        f"{p}O = []",
        f"for {p}d, ({p}k, {p}s, {p}p, {p}dl) in enumerate(zip({k}, {s}, {pd}, {dl})):",
        f"    {p}span = {p}I[{p}d] + 2 * {p}p - {p}dl * ({p}k - 1) - 1",
        f"    {p}o = ({p}span + ({p}s - 1 if {ceil} else 0)) // {p}s + 1",
        f"    if {ceil} and ({p}o - 1) * {p}s >= {p}I[{p}d] + {p}p:",
        f"        {p}o -= 1",
        f"    {p}O.append({p}o)",
        alloc.format(shape=f"tuple({p}x.shape[:2]) + tuple({p}O[{pad3}:])"),
        f"{p}R = {out}.numel() // max(1, {p}O[2])",
        f"{p}bw = {block(f'{p}O[2]', bs)}",
        f"{p}sw = triton.next_power_of_2(({p}bw - 1) * {s[2]} + {(k[2] - 1) * dl[2]} + 1)",
        # about ``block`` outputs a program, its input tile at most twice that
        f"{p}br = max(1, min({bs} // {p}bw, {2 * bs} // {p}sw, triton.next_power_of_2(max(1, {p}R))))",
        f"pool_kernel[(triton.cdiv({p}R, {p}br), triton.cdiv({p}O[2], {p}bw))]({p}x, {out}, {p}R, *{p}I, *{p}O, "
        f"{constexprs}, IS_MAX={is_max}, COUNT_PAD={count_pad}, DIVISOR={divisor!r}, BLOCK_R={p}br, "
        f"BLOCK_W={p}bw, SPAN={p}sw, {warps(ctx.params)})",
    ]
    return "", lines
