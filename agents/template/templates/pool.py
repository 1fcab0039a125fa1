"""Max and average pooling over 1-3 spatial dims: a program takes a tile of outputs of one (batch,
channel, first output dim) plane: ``BLOCK_R`` consecutive rows of the second output dim by ``BLOCK_W``
of the last.

The launcher makes the input contiguous, treats missing spatial dims as size 1 (kernel 1, stride 1)
and computes the output size as torch does (floor or ceil mode; a ceil-mode window must start inside
the input or its left padding). For each tap of the first dim (a loop) the program loads the one block
of input its tile's windows cover (``ROWS x SPAN``: ``(BLOCK - 1) * stride + (kernel - 1) * dilation + 1``
rows and columns, rounded up to powers of two, the lanes past them masked), then takes each tap of the
second dim's rows (``tl.gather`` along the rows) and each tap of the last dim's columns (along the
columns) from it: every input element of the block is requested once per program and first-dim tap
instead of once per tap (max pooling 1D with 8 taps: 8 loads before). A tap outside the input is
skipped (max: masked lanes are -inf) or counted as padding (average: ``count_include_pad`` counts taps
inside the padded input, otherwise only real ones; ``divisor_override`` replaces the count). The tile
shrinks (fewer rows) until its input block holds at most four times ``block`` values.

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
    x_ptr, y_ptr, I0, I1, I2, O0, O1, O2,
    K0: tl.constexpr, K1: tl.constexpr, K2: tl.constexpr, S0: tl.constexpr, S1: tl.constexpr, S2: tl.constexpr,
    P0: tl.constexpr, P1: tl.constexpr, P2: tl.constexpr, D0: tl.constexpr, D1: tl.constexpr, D2: tl.constexpr,
    IS_MAX: tl.constexpr, COUNT_PAD: tl.constexpr, DIVISOR: tl.constexpr,
    BLOCK_R: tl.constexpr, BLOCK_W: tl.constexpr, ROWS: tl.constexpr, SPAN: tl.constexpr,
):  # fmt: skip
    """y[bc, o0, o1, o2] = max or mean of x over the window; ``DIVISOR`` > 0 overrides the count."""
    plane = tl.program_id(0).to(tl.int64)  # (bc, o0)
    o0 = plane % O0
    bc = plane // O0
    r0 = tl.program_id(1) * BLOCK_R
    o1 = r0 + tl.arange(0, BLOCK_R)
    w0 = tl.program_id(2) * BLOCK_W
    o2 = w0 + tl.arange(0, BLOCK_W)
    ok = (o1 < O1)[:, None] & (o2 < O2)[None, :]
    # the input rows and columns the tile's windows read: one block from the first window's corner
    q = tl.arange(0, ROWS)
    i1 = r0 * S1 - P1 + q
    q_ok = (q < (tl.minimum(BLOCK_R, O1 - r0) - 1) * S1 + (K1 - 1) * D1 + 1) & (i1 >= 0) & (i1 < I1)
    j = tl.arange(0, SPAN)
    i2 = w0 * S2 - P2 + j
    j_ok = (j < (tl.minimum(BLOCK_W, O2 - w0) - 1) * S2 + (K2 - 1) * D2 + 1) & (i2 >= 0) & (i2 < I2)
    at_r = tl.broadcast_to((tl.arange(0, BLOCK_R) * S1)[:, None], [BLOCK_R, SPAN])
    at_w = tl.broadcast_to((tl.arange(0, BLOCK_W) * S2)[None, :], [BLOCK_R, BLOCK_W])
    if IS_MAX:
        acc = tl.full([BLOCK_R, BLOCK_W], -float("inf"), tl.float32)
    else:
        acc = tl.full([BLOCK_R, BLOCK_W], 0.0, tl.float32)
    cnt = tl.full([BLOCK_R, BLOCK_W], 0.0, tl.float32)
    cnt_pad = tl.full([BLOCK_R, BLOCK_W], 0.0, tl.float32)
    for k0 in range(K0):  # a loop, not unrolled: 3D windows unrolled whole spill on a GPU
        i0 = o0 * S0 - P0 + k0 * D0
        in0 = (i0 >= 0) & (i0 < I0)
        q_in = q_ok & ((q * 0 + i0) >= 0) & ((q * 0 + i0) < I0)
        tile_ok = q_in[:, None] & j_ok[None, :]
        ptrs = x_ptr + ((bc * I0 + i0) * I1 + i1[:, None]) * I2 + i2[None, :]
        if IS_MAX:  # noqa: SIM108 (a constexpr branch, as Triton compiles it)
            tile = tl.load(ptrs, mask=tile_ok, other=-float("inf"))
        else:
            tile = tl.load(ptrs, mask=tile_ok, other=0.0)
        tile = tile.to(tl.float32)
        for k1 in tl.static_range(K1):
            if K1 == 1 and S1 == 1:  # noqa: SIM108 (constexpr: the tile's rows are the output rows')
                rows = tile
            else:
                rows = tl.gather(tile, at_r + k1 * D1, axis=0)
            t1 = o1 * S1 - P1 + k1 * D1
            for k2 in tl.static_range(K2):
                v = tl.gather(rows, at_w + k2 * D2, axis=1)
                if IS_MAX:
                    acc = tl.maximum(acc, v)
                else:
                    acc += v
                    t2 = o2 * S2 - P2 + k2 * D2
                    inb = ((t1 >= 0) & (t1 < I1) & in0)[:, None] & ((t2 >= 0) & (t2 < I2))[None, :]
                    cnt += tl.where(inb, 1.0, 0.0)
                    inpad = ((t1 < I1 + P1) & (i0 < I0 + P0))[:, None] & (t2 < I2 + P2)[None, :]
                    cnt_pad += tl.where(inpad, 1.0, 0.0)
    if not IS_MAX:
        if DIVISOR > 0:
            acc = acc / DIVISOR
        elif COUNT_PAD:
            acc = acc / cnt_pad
        else:
            acc = acc / cnt
    tl.store(y_ptr + (plane * O1 + o1[:, None]) * O2 + o2[None, :], acc.to(y_ptr.dtype.element_ty), mask=ok)


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
        f"{p}bw = {block(f'{p}O[2]', bs)}",
        f"{p}sw = triton.next_power_of_2(({p}bw - 1) * {s[2]} + {(k[2] - 1) * dl[2]} + 1)",
        f"{p}br = max(1, min({bs} // {p}bw, triton.next_power_of_2(max(1, {p}O[1]))))",
        f"{p}rows = triton.next_power_of_2(({p}br - 1) * {s[1]} + {(k[1] - 1) * dl[1]} + 1)",
        # about ``block`` outputs a program, its input tile at most four times that
        f"while {p}br > 1 and {p}rows * {p}sw > {4 * bs}:",
        f"    {p}br //= 2",
        f"    {p}rows = triton.next_power_of_2(({p}br - 1) * {s[1]} + {(k[1] - 1) * dl[1]} + 1)",
        f"pool_kernel[({p}x.shape[0] * {p}x.shape[1] * {p}O[0], triton.cdiv({p}O[1], {p}br), "
        f"triton.cdiv({p}O[2], {p}bw))]({p}x, {out}, *{p}I, *{p}O, {constexprs}, IS_MAX={is_max}, "
        f"COUNT_PAD={count_pad}, DIVISOR={divisor!r}, BLOCK_R={p}br, BLOCK_W={p}bw, ROWS={p}rows, SPAN={p}sw, "
        f"{warps(ctx.params)})",
    ]
    return "", lines
