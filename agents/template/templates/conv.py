"""Convolution over 1-3 spatial dims, direct or transposed (any stride, padding, dilation, groups), as
an implicit GEMM, with a fused epilogue.

A program owns a tile of ``BLOCK_O`` output channels of one group by ``BLOCK_P`` output positions of
one image. The reduction runs over the group's input channels times the kernel taps together
(``R = CIg * K0 * K1 * K2``) in blocks of ``BLOCK_R``: each block gathers its weight slice
``[BLOCK_O, BLOCK_R]`` and the matching input values ``[BLOCK_R, BLOCK_P]`` (zero outside the input)
and multiplies them with ``tl.dot`` in float32. Folding the taps into the reduction keeps the loop
short when channels are few (a 3-channel 11x11 convolution is 6 dots of 64, not 121 dots of 3).

Direct: input position ``i = q * S - P + k * D``. Transposed (the weight is ``(CI, CO / groups, K...)``):
output ``q`` takes input ``i = (q + P - k * D) / S`` when that division is exact and ``i`` is inside.
Missing spatial dims are size 1 (kernel 1, stride 1). Operands are made contiguous by the launcher.
Dot precision as the dense templates (``dense.dot_precision``, a convolution's: the eager baseline's).

``conv_tile`` is the fixed kernel body (a real ``@triton.jit`` function, emitted into the candidate
by its source); the emitted kernel around it is the glue: program ids, the epilogue and the store.
The helpers call only Triton builtins (``tl.full``, not the ``@jit`` ``tl.zeros``): the interpreter
cannot call a library ``@jit`` function from a nested one when Triton was imported before
``TRITON_INTERPRET`` was set (as in a test process; the verifier's worker sets it first).
"""

from __future__ import annotations

import inspect

import triton
import triton.language as tl

from agents.template.ir import Node
from agents.template.templates.common import Ctx, Epilogue, block, warps, window_3d
from agents.template.templates.dense import dot_precision


@triton.jit
def _conv_taps(q0, q1, q2, k0, k1, k2, I0, I1, I2, S0: tl.constexpr, S1: tl.constexpr, S2: tl.constexpr,
               P0: tl.constexpr, P1: tl.constexpr, P2: tl.constexpr, D0: tl.constexpr, D1: tl.constexpr,
               D2: tl.constexpr, TRANSPOSED: tl.constexpr):  # fmt: skip
    """Input position (i0, i1, i2) that output position q takes at tap k, and whether it exists."""
    if TRANSPOSED:
        n0 = q0 + P0 - k0 * D0
        n1 = q1 + P1 - k1 * D1
        n2 = q2 + P2 - k2 * D2
        i0 = n0 // S0
        i1 = n1 // S1
        i2 = n2 // S2
        inb = (n0 >= 0) & (n1 >= 0) & (n2 >= 0) & (n0 % S0 == 0) & (n1 % S1 == 0) & (n2 % S2 == 0)
        inb = inb & (i0 < I0) & (i1 < I1) & (i2 < I2)
    else:
        i0 = q0 * S0 - P0 + k0 * D0
        i1 = q1 * S1 - P1 + k1 * D1
        i2 = q2 * S2 - P2 + k2 * D2
        inb = (i0 >= 0) & (i0 < I0) & (i1 >= 0) & (i1 < I1) & (i2 >= 0) & (i2 < I2)
    return i0, i1, i2, inb


@triton.jit
def conv_tile(
    x_ptr, w_ptr, b_ptr, b, g, oc0, pid_p, NBLK, CI, COg, CIg, I0, I1, I2, O0, O1, O2,
    K0: tl.constexpr, K1: tl.constexpr, K2: tl.constexpr, S0: tl.constexpr, S1: tl.constexpr, S2: tl.constexpr,
    P0: tl.constexpr, P1: tl.constexpr, P2: tl.constexpr, D0: tl.constexpr, D1: tl.constexpr, D2: tl.constexpr,
    TRANSPOSED: tl.constexpr, FOLD_TAPS: tl.constexpr, PHASED: tl.constexpr, HAS_BIAS: tl.constexpr,
    BLOCK_O: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_R: tl.constexpr, DOT_PRECISION: tl.constexpr,
):  # fmt: skip
    """One [BLOCK_O, BLOCK_P] output tile of image ``b``, group ``g``: (acc, co, q, q0, q1, q2, o_ok, q_ok)."""
    oc = oc0 + tl.arange(0, BLOCK_O)
    o_ok = oc < COg
    if PHASED:  # transposed, strided: the program's outputs share the phase (q + P) % S, hence their taps
        phase = pid_p // NBLK
        ph2 = phase % S2
        ph1 = (phase // S2) % S1
        ph0 = phase // (S2 * S1)
        f0 = (ph0 - P0 % S0 + S0) % S0  # the first output of the phase
        f1 = (ph1 - P1 % S1 + S1) % S1
        f2 = (ph2 - P2 % S2 + S2) % S2
        c0 = (O0 - f0 + S0 - 1) // S0  # outputs of the phase along each dim
        c1 = (O1 - f1 + S1 - 1) // S1
        c2 = (O2 - f2 + S2 - 1) // S2
        j = (pid_p % NBLK) * BLOCK_P + tl.arange(0, BLOCK_P)
        q_ok = j < c0 * c1 * c2
        j2 = j % tl.maximum(c2, 1)
        j1 = (j // tl.maximum(c2, 1)) % tl.maximum(c1, 1)
        j0 = j // (tl.maximum(c2, 1) * tl.maximum(c1, 1))
        q0 = f0 + j0 * S0
        q1 = f1 + j1 * S1
        q2 = f2 + j2 * S2
        q = (q0 * O1 + q1) * O2 + q2
    else:
        q = pid_p * BLOCK_P + tl.arange(0, BLOCK_P)
        q_ok = q < O0 * O1 * O2
        q2 = q % O2
        q1 = (q // O2) % O1
        q0 = q // (O2 * O1)
    co = g * COg + oc
    KK = K0 * K1 * K2
    acc = tl.full((BLOCK_O, BLOCK_P), 0.0, tl.float32)
    if FOLD_TAPS:  # few channels: the reduction runs over (channel, tap) pairs
        if PHASED:  # the phase's taps only: k = ph + S * m along each dim (no dilation)
            n0 = (K0 - ph0 + S0 - 1) // S0
            n1 = (K1 - ph1 + S1 - 1) // S1
            n2 = (K2 - ph2 + S2 - 1) // S2
            T = n0 * n1 * n2
        else:
            T = KK
        R = CIg * T
        for r0 in range(0, R, BLOCK_R):
            r = r0 + tl.arange(0, BLOCK_R)
            r_ok = r < R
            ci = r // T
            tt = r % T
            if PHASED:
                k2 = ph2 + S2 * (tt % n2)
                k1 = ph1 + S1 * ((tt // n2) % n1)
                k0 = ph0 + S0 * (tt // (n2 * n1))
            else:
                k2 = tt % K2
                k1 = (tt // K2) % K1
                k0 = tt // (K2 * K1)
            t = (k0 * K1 + k1) * K2 + k2
            i0, i1, i2, inb = _conv_taps(q0[None, :], q1[None, :], q2[None, :], k0[:, None], k1[:, None],
                                         k2[:, None], I0, I1, I2, S0, S1, S2, P0, P1, P2, D0, D1, D2,
                                         TRANSPOSED)  # fmt: skip
            if TRANSPOSED:
                w_offs = ((g * CIg + ci)[None, :] * COg + oc[:, None]) * KK + t[None, :]
            else:
                w_offs = (co[:, None] * CIg + ci[None, :]) * KK + t[None, :]
            wv = tl.load(w_ptr + w_offs, mask=o_ok[:, None] & r_ok[None, :], other=0.0)
            x_offs = (b * CI + g * CIg + ci[:, None]) * (I0 * I1 * I2) + (i0 * I1 + i1) * I2 + i2
            xv = tl.load(x_ptr + x_offs, mask=r_ok[:, None] & q_ok[None, :] & inb, other=0.0)
            acc += tl.dot(wv.to(tl.float32), xv.to(tl.float32), input_precision=DOT_PRECISION)
    else:  # a tap at a time, channels in blocks: the input index is computed once per tap
        for t in range(KK):
            k0 = t // (K2 * K1)
            k1 = (t // K2) % K1
            k2 = t % K2
            used = k0 >= 0
            if PHASED:  # only the taps of the program's phase reach its outputs (1 in S0 * S1 * S2)
                used = ((ph0 - (k0 * D0) % S0 + S0) % S0 == 0) & ((ph1 - (k1 * D1) % S1 + S1) % S1 == 0)
                used = used & ((ph2 - (k2 * D2) % S2 + S2) % S2 == 0)
            if used:
                i0, i1, i2, inb = _conv_taps(q0, q1, q2, k0, k1, k2, I0, I1, I2,
                                             S0, S1, S2, P0, P1, P2, D0, D1, D2, TRANSPOSED)  # fmt: skip
                x_sp = (i0 * I1 + i1) * I2 + i2
                for cb in range(0, CIg, BLOCK_R):
                    ci = cb + tl.arange(0, BLOCK_R)
                    c_ok = ci < CIg
                    if TRANSPOSED:
                        w_offs = ((g * CIg + ci)[None, :] * COg + oc[:, None]) * KK + t
                    else:
                        w_offs = (co[:, None] * CIg + ci[None, :]) * KK + t
                    wv = tl.load(w_ptr + w_offs, mask=o_ok[:, None] & c_ok[None, :], other=0.0)
                    x_offs = (b * CI + g * CIg + ci[:, None]) * (I0 * I1 * I2) + x_sp[None, :]
                    xv = tl.load(x_ptr + x_offs, mask=c_ok[:, None] & (q_ok & inb)[None, :], other=0.0)
                    acc += tl.dot(wv.to(tl.float32), xv.to(tl.float32), input_precision=DOT_PRECISION)
    if HAS_BIAS:
        acc += tl.load(b_ptr + co, mask=o_ok, other=0.0).to(tl.float32)[:, None]
    return acc, co, q, q0, q1, q2, o_ok, q_ok


FOLD_BELOW = 16
"""Input channels per group below which the taps are folded into the reduction dim."""

TILE_SOURCE = inspect.getsource(_conv_taps.fn) + "\n\n" + inspect.getsource(conv_tile.fn)
"""``_conv_taps`` and ``conv_tile`` as emitted into a candidate (once, whatever the number of convolution nodes)."""


def emit_conv(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    p = f"n{node.id}_"
    a = node.attrs
    sd = int(a["spatial"])
    pad3 = 3 - sd
    k, s, pl, pr, dl = window_3d(a, {"kernel": 1, "stride": 1, "pad_left": 0, "pad_right": 0, "dilation": 1})
    transposed = bool(a.get("transposed"))
    op = [0] * pad3 + list(a.get("output_padding") or [0] * sd)
    groups = int(a["groups"])
    phased = transposed and any(v > 1 for v in s) and all(v == 1 for v in dl)
    x = ctx.var(node.operands["x"])  # type: ignore[arg-type]
    w = ctx.var(node.operands["weight"])  # type: ignore[arg-type]
    bias_leaf = node.operands.get("bias")
    epi = Epilogue(node.epilogue, 2 + sd)
    bo, bp, br = (int(ctx.params.get(key, d)) for key, d in (("block_o", 32), ("block_p", 64), ("block_c", 32)))
    if transposed:
        co_code = f"{p}w.shape[1] * {groups}"
        size_rule = f"({p}I[d] - 1) * {s}[d] - {pl}[d] - {pr}[d] + {dl}[d] * ({k}[d] - 1) + {op}[d] + 1"
    else:
        co_code = f"{p}w.shape[0]"
        size_rule = f"({p}I[d] + {pl}[d] + {pr}[d] - {dl}[d] * ({k}[d] - 1) - 1) // {s}[d] + 1"
    constexprs = ", ".join(
        f"{name}{d}={v[d]}" for name, v in (("K", k), ("S", s), ("P", pl), ("D", dl)) for d in range(3)
    )
    lines = [
        f"{p}x, {p}w = {x}.contiguous(), {w}.contiguous()",
        f"{p}B, {p}CI = {p}x.shape[0], {p}x.shape[1]",
        f"{p}CO = {co_code}",
        f"{p}I = [1] * {pad3} + list({p}x.shape[2:])",
        f"{p}O = [{size_rule} for d in range(3)]",
        f"{p}shape = ({p}B, {p}CO) + tuple({p}O[{pad3}:])",
        *epi.output(ctx, alloc, p),
        f"{p}P = {p}O[0] * {p}O[1] * {p}O[2]",
        f"{p}COg, {p}CIg = {p}CO // {groups}, {p}CI // {groups}",
        # few channels: fold the taps into the reduction (fewer, fuller dots)
        f"{p}fold = {p}CIg < {FOLD_BELOW}",
        f"{p}R = {p}CIg * {k[0] * k[1] * k[2]} if {p}fold else {p}CIg",
        # positions per program group: all outputs, or (phased) the outputs of one phase
        f"{p}PP = " + (" * ".join(f"(({p}O[{d}] + {s[d] - 1}) // {s[d]})" for d in range(3)) if phased else f"{p}P"),
        f"{p}bo, {p}bp, {p}br = {block(f'{p}COg', bo, 16)}, {block(f'{p}PP', bp, 16)}, {block(f'{p}R', br, 16)}",
        f"{p}nblk = triton.cdiv({p}PP, {p}bp)",
        f"{p}grid = ({p}B * {groups}, triton.cdiv({p}COg, {p}bo), {p}nblk * {s[0] * s[1] * s[2] if phased else 1})",
        f"{p}dp = {dot_precision(f'{p}x', f'{p}w', 'conv')}",
        f"{ctx.name}[{p}grid]({p}x, {p}w, {ctx.var(bias_leaf) if bias_leaf is not None else p + 'w'}, {out}, "
        f"{p}nblk, {p}CI, {p}CO, {p}COg, {p}CIg, *{p}I, *{p}O, " + epi.call_args(p) + f"GROUPS={groups}, {constexprs}, "
        f"TRANSPOSED={transposed}, FOLD_TAPS={p}fold, PHASED={phased}, HAS_BIAS={bias_leaf is not None}, "
        f"BLOCK_O={p}bo, BLOCK_P={p}bp, BLOCK_R={p}br, DOT_PRECISION={p}dp, {warps(ctx.params)})",
    ]
    index = ["b", "co[:, None]"] + [f"q{d}[None, :]" for d in range(pad3, 3)]
    kernel = "\n".join(
        [
            *epi.kernel_head(
                ctx.name,
                ["x_ptr, w_ptr, b_ptr, y_ptr, NBLK, CI, CO, COg, CIg, I0, I1, I2, O0, O1, O2,"],
                [
                    "GROUPS: tl.constexpr, K0: tl.constexpr, K1: tl.constexpr, K2: tl.constexpr,",
                    "S0: tl.constexpr, S1: tl.constexpr, S2: tl.constexpr, P0: tl.constexpr, P1: tl.constexpr,",
                    "P2: tl.constexpr, D0: tl.constexpr, D1: tl.constexpr, D2: tl.constexpr, TRANSPOSED: tl.constexpr,",
                    "FOLD_TAPS: tl.constexpr, PHASED: tl.constexpr, HAS_BIAS: tl.constexpr, BLOCK_O: tl.constexpr,",
                    "BLOCK_P: tl.constexpr,",
                    "BLOCK_R: tl.constexpr, DOT_PRECISION: tl.constexpr,",
                ],
            ),
            "    bg = tl.program_id(0).to(tl.int64)",
            "    b = bg // GROUPS",
            "    g = bg % GROUPS",
            "    acc, co, q, q0, q1, q2, o_ok, q_ok = conv_tile(",
            "        x_ptr, w_ptr, b_ptr, b, g, tl.program_id(1) * BLOCK_O, tl.program_id(2), NBLK,",
            "        CI, COg, CIg, I0, I1, I2, O0, O1, O2, K0, K1, K2, S0, S1, S2, P0, P1, P2, D0, D1, D2,",
            "        TRANSPOSED, FOLD_TAPS, PHASED, HAS_BIAS, BLOCK_O, BLOCK_P, BLOCK_R, DOT_PRECISION,",
            "    )",
            "    out_mask = o_ok[:, None] & q_ok[None, :]",
            *epi.body(index, "out_mask"),
            "    y_offs = (b * CO + co[:, None]) * (O0 * O1 * O2) + q[None, :]",
            "    tl.store(y_ptr + y_offs, acc.to(y_ptr.dtype.element_ty), mask=out_mask)",
        ]
    )
    return kernel, lines
