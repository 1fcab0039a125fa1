"""Max and average pooling over 1-3 spatial dims: one program per block of output elements.

The launcher makes the input contiguous, treats missing spatial dims as size 1 (kernel 1, stride 1)
and computes the output size as torch does (floor or ceil mode; a ceil-mode window must start inside
the input or its left padding). Taps are unrolled (kernel sizes are compile-time constants); a tap
outside the input is skipped (max) or counted as padding (average: ``count_include_pad`` counts taps
inside the padded input, otherwise only real ones; ``divisor_override`` replaces the count).
"""

from __future__ import annotations

from agents.template.ir import Node
from agents.template.templates.common import Ctx, block, warps


def emit_pool(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    p = f"n{node.id}_"
    a = node.attrs
    sd = int(a["spatial"])
    pad3 = 3 - sd
    k = [1] * pad3 + list(a["kernel"])
    s = [1] * pad3 + list(a["stride"])
    pd = [0] * pad3 + list(a["padding"])
    dl = [1] * pad3 + list(a["dilation"])
    ceil = bool(a.get("ceil_mode"))
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
        f"{ctx.name}[(triton.cdiv({p}numel, {p}bs),)]({p}x, {out}, {p}numel, *{p}I, *{p}O, BLOCK={p}bs, "
        f"{warps(ctx.params)})",
    ]
    is_max = a["op"] == "max"
    init = "-float('inf')" if is_max else "0.0"
    body = [
        "    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)",
        "    ok = offs < numel",
        "    o2 = offs % O2",
        "    rem = offs // O2",
        "    o1 = rem % O1",
        "    rem = rem // O1",
        "    o0 = rem % O0",
        "    bc = rem // O0",
        f"    acc = tl.full([BLOCK], {init}, tl.float32)",
        "    cnt = tl.zeros([BLOCK], dtype=tl.float32)",
        "    cnt_pad = tl.zeros([BLOCK], dtype=tl.float32)",
    ]
    for d in range(3):
        ind = "    " * (d + 1)
        body += [
            f"{ind}for k{d} in tl.static_range({k[d]}):",
            f"{ind}    i{d} = o{d} * {s[d]} - {pd[d]} + k{d} * {dl[d]}",
        ]
    ind = "    " * 4
    body += [
        f"{ind}inb = (i0 >= 0) & (i0 < I0) & (i1 >= 0) & (i1 < I1) & (i2 >= 0) & (i2 < I2)",
        f"{ind}v = tl.load(x_ptr + ((bc * I0 + i0) * I1 + i1) * I2 + i2, mask=ok & inb, other={init}).to(tl.float32)",
    ]
    if is_max:
        body.append(f"{ind}acc = tl.maximum(acc, v)")
    else:
        body += [
            f"{ind}acc += v",
            f"{ind}cnt += tl.where(inb, 1.0, 0.0)",
            f"{ind}inpad = (i0 < I0 + {pd[0]}) & (i1 < I1 + {pd[1]}) & (i2 < I2 + {pd[2]})",
            f"{ind}cnt_pad += tl.where(inpad, 1.0, 0.0)",
        ]
        if a.get("divisor") is not None:
            body.append(f"    acc = acc / {float(a['divisor'])!r}")
        elif a.get("count_include_pad", True):
            body.append("    acc = acc / cnt_pad")
        else:
            body.append("    acc = acc / cnt")
    kernel = "\n".join(
        [
            "@triton.jit",
            f"def {ctx.name}(x_ptr, y_ptr, numel, I0, I1, I2, O0, O1, O2, BLOCK: tl.constexpr):",
            *body,
            "    tl.store(y_ptr + offs, acc.to(y_ptr.dtype.element_ty), mask=ok)",
        ]
    )
    return kernel, lines
