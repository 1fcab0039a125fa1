"""Direct convolution over 1-3 spatial dims (any stride, padding, dilation, groups), as a GEMM per tap.

A program owns a tile of ``BLOCK_O`` output channels of one group by ``BLOCK_P`` output positions of
one image; for each kernel tap it multiplies the tap's weight slice ``[BLOCK_O, BLOCK_C]`` with the
shifted input ``[BLOCK_C, BLOCK_P]`` (zero outside the input) with ``tl.dot`` in float32, over the
group's input channels in blocks. Missing spatial dims are size 1 (kernel 1, stride 1). Operands are
made contiguous by the launcher. Dot precision as the dense templates (``dense.dot_precision``).
"""

from __future__ import annotations

from agents.template.ir import Node
from agents.template.templates.common import Ctx, block, warps
from agents.template.templates.dense import dot_precision


def emit_conv(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    p = f"n{node.id}_"
    a = node.attrs
    sd = int(a["spatial"])
    pad3 = 3 - sd
    k = [1] * pad3 + list(a["kernel"])
    s = [1] * pad3 + list(a["stride"])
    pl = [0] * pad3 + list(a["pad_left"])
    pr = [0] * pad3 + list(a["pad_right"])
    dl = [1] * pad3 + list(a["dilation"])
    groups = int(a["groups"])
    x = ctx.var(node.operands["x"])  # type: ignore[arg-type]
    w = ctx.var(node.operands["weight"])  # type: ignore[arg-type]
    bias_leaf = node.operands.get("bias")
    bo, bp, bc = (int(ctx.params.get(key, d)) for key, d in (("block_o", 32), ("block_p", 64), ("block_c", 32)))
    lines = [
        f"{p}x, {p}w = {x}.contiguous(), {w}.contiguous()",
        f"{p}B, {p}CI = {p}x.shape[0], {p}x.shape[1]",
        f"{p}CO = {p}w.shape[0]",
        f"{p}I = [1] * {pad3} + list({p}x.shape[2:])",
        f"{p}O = [({p}I[d] + {pl}[d] + {pr}[d] - {dl}[d] * ({k}[d] - 1) - 1) // {s}[d] + 1 for d in range(3)]",
        alloc.format(shape=f"({p}B, {p}CO) + tuple({p}O[{pad3}:])"),
        f"{p}P = {p}O[0] * {p}O[1] * {p}O[2]",
        f"{p}COg, {p}CIg = {p}CO // {groups}, {p}CI // {groups}",
        f"{p}bo, {p}bp, {p}bc = {block(f'{p}COg', bo, 16)}, {block(f'{p}P', bp, 16)}, {block(f'{p}CIg', bc, 16)}",
        f"{p}grid = ({p}B * {groups}, triton.cdiv({p}COg, {p}bo), triton.cdiv({p}P, {p}bp))",
        f"{p}dp = {dot_precision(f'{p}x', f'{p}w')}",
        f"{ctx.name}[{p}grid]({p}x, {p}w, {ctx.var(bias_leaf) if bias_leaf is not None else p + 'w'}, {out}, "
        f"{p}CI, {p}CO, {p}COg, {p}CIg, *{p}I, *{p}O, HAS_BIAS={bias_leaf is not None}, "
        f"BLOCK_O={p}bo, BLOCK_P={p}bp, BLOCK_C={p}bc, DOT_PRECISION={p}dp, {warps(ctx.params)})",
    ]
    kk = k[0] * k[1] * k[2]
    kernel = "\n".join(
        [
            "@triton.jit",
            f"def {ctx.name}(",
            "    x_ptr, w_ptr, b_ptr, y_ptr, CI, CO, COg, CIg, I0, I1, I2, O0, O1, O2,",
            "    HAS_BIAS: tl.constexpr, BLOCK_O: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_C: tl.constexpr,",
            "    DOT_PRECISION: tl.constexpr,",
            "):",
            "    bg = tl.program_id(0).to(tl.int64)",
            f"    b = bg // {groups}",
            f"    g = bg % {groups}",
            "    oc = tl.program_id(1) * BLOCK_O + tl.arange(0, BLOCK_O)",
            "    q = tl.program_id(2) * BLOCK_P + tl.arange(0, BLOCK_P)",
            "    o_ok = oc < COg",
            "    q_ok = q < O0 * O1 * O2",
            "    q2 = q % O2",
            "    q1 = (q // O2) % O1",
            "    q0 = q // (O2 * O1)",
            "    co = g * COg + oc",
            "    acc = tl.zeros((BLOCK_O, BLOCK_P), dtype=tl.float32)",
            f"    for t in range({kk}):",
            f"        k2 = t % {k[2]}",
            f"        k1 = (t // {k[2]}) % {k[1]}",
            f"        k0 = t // {k[2] * k[1]}",
            f"        i0 = q0 * {s[0]} - {pl[0]} + k0 * {dl[0]}",
            f"        i1 = q1 * {s[1]} - {pl[1]} + k1 * {dl[1]}",
            f"        i2 = q2 * {s[2]} - {pl[2]} + k2 * {dl[2]}",
            "        inb = q_ok & (i0 >= 0) & (i0 < I0) & (i1 >= 0) & (i1 < I1) & (i2 >= 0) & (i2 < I2)",
            "        x_sp = (i0 * I1 + i1) * I2 + i2",
            "        for c0 in range(0, CIg, BLOCK_C):",
            "            cc = c0 + tl.arange(0, BLOCK_C)",
            "            c_ok = cc < CIg",
            f"            w_offs = (co[:, None] * CIg + cc[None, :]) * {kk} + t",
            "            wv = tl.load(w_ptr + w_offs, mask=o_ok[:, None] & c_ok[None, :], other=0.0)",
            "            x_offs = (b * CI + g * CIg + cc[:, None]) * (I0 * I1 * I2) + x_sp[None, :]",
            "            xv = tl.load(x_ptr + x_offs, mask=c_ok[:, None] & inb[None, :], other=0.0)",
            "            acc += tl.dot(wv.to(tl.float32), xv.to(tl.float32), input_precision=DOT_PRECISION)",
            "    if HAS_BIAS:",
            "        acc += tl.load(b_ptr + co, mask=o_ok, other=0.0).to(tl.float32)[:, None]",
            "    y_offs = (b * CO + co[:, None]) * (O0 * O1 * O2) + q[None, :]",
            "    tl.store(y_ptr + y_offs, acc.to(y_ptr.dtype.element_ty), mask=o_ok[:, None] & q_ok[None, :])",
        ]
    )
    return kernel, lines
