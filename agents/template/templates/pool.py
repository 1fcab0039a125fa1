"""Max and average pooling over 1-3 spatial dims: one program per block of output elements.

The launcher makes the input contiguous, treats missing spatial dims as size 1 (kernel 1, stride 1)
and computes the output size as torch does (floor or ceil mode; a ceil-mode window must start inside
the input or its left padding). Taps of the last two dims are unrolled (kernel sizes are compile-time
constants), the first dim's are a loop; a tap
outside the input is skipped (max) or counted as padding (average: ``count_include_pad`` counts taps
inside the padded input, otherwise only real ones; ``divisor_override`` replaces the count).

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
    x_ptr, y_ptr, numel, I0, I1, I2, O0, O1, O2,
    K0: tl.constexpr, K1: tl.constexpr, K2: tl.constexpr, S0: tl.constexpr, S1: tl.constexpr, S2: tl.constexpr,
    P0: tl.constexpr, P1: tl.constexpr, P2: tl.constexpr, D0: tl.constexpr, D1: tl.constexpr, D2: tl.constexpr,
    IS_MAX: tl.constexpr, COUNT_PAD: tl.constexpr, DIVISOR: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """y[bc, o0, o1, o2] = max or mean of x over the window; ``DIVISOR`` > 0 overrides the count."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    ok = offs < numel
    o2 = offs % O2
    rem = offs // O2
    o1 = rem % O1
    rem = rem // O1
    o0 = rem % O0
    bc = rem // O0
    if IS_MAX:  # noqa: SIM108 (a constexpr branch, as Triton compiles it)
        acc = tl.full([BLOCK], -float("inf"), tl.float32)
    else:
        acc = tl.full([BLOCK], 0.0, tl.float32)
    cnt = tl.full([BLOCK], 0.0, tl.float32)
    cnt_pad = tl.full([BLOCK], 0.0, tl.float32)
    for k0 in range(K0):  # a loop, not unrolled: 3D windows unrolled whole spill on a GPU
        i0 = o0 * S0 - P0 + k0 * D0
        for k1 in tl.static_range(K1):
            i1 = o1 * S1 - P1 + k1 * D1
            for k2 in tl.static_range(K2):
                i2 = o2 * S2 - P2 + k2 * D2
                inb = (i0 >= 0) & (i0 < I0) & (i1 >= 0) & (i1 < I1) & (i2 >= 0) & (i2 < I2)
                x_offs = ((bc * I0 + i0) * I1 + i1) * I2 + i2
                if IS_MAX:
                    v = tl.load(x_ptr + x_offs, mask=ok & inb, other=-float("inf")).to(tl.float32)
                    acc = tl.maximum(acc, v)
                else:
                    acc += tl.load(x_ptr + x_offs, mask=ok & inb, other=0.0).to(tl.float32)
                    cnt += tl.where(inb, 1.0, 0.0)
                    inpad = (i0 < I0 + P0) & (i1 < I1 + P1) & (i2 < I2 + P2)
                    cnt_pad += tl.where(inpad, 1.0, 0.0)
    if not IS_MAX:
        if DIVISOR > 0:
            acc = acc / DIVISOR
        elif COUNT_PAD:
            acc = acc / cnt_pad
        else:
            acc = acc / cnt
    tl.store(y_ptr + offs, acc.to(y_ptr.dtype.element_ty), mask=ok)


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
        f"{p}numel = {out}.numel()",
        f"{p}bs = {block(f'{p}numel', int(ctx.params.get('block', 1024)), 16)}",
        f"pool_kernel[(triton.cdiv({p}numel, {p}bs),)]({p}x, {out}, {p}numel, *{p}I, *{p}O, {constexprs}, "
        f"IS_MAX={is_max}, COUNT_PAD={count_pad}, DIVISOR={divisor!r}, BLOCK={p}bs, {warps(ctx.params)})",
    ]
    return "", lines
