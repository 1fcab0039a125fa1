"""Depthwise convolutions: 2D with one or more summed branches, and 1D long (tap-blocked) convolutions.

2D: one program per (batch x channel, output tile); each branch loops over its kernel rows (a
run-time loop, so 31x31 and 51x51 kernels compile quickly) and unrolls the columns, accumulating in
float32; bias and the epilogue are applied once before the single store. Any kernel size, stride,
dilation and zero padding; 'same' and causal paddings follow the kernel size at run time.

1D, direct: one program per (batch x channel, block of outputs); taps are processed in blocks
(BLOCK_T x BLOCK_J gathers), and only the tap range that reaches valid input is visited, so a
causal convolution with a sequence-long kernel does half the work of a dense one. A weight read
reversed (the FFT convolution's filter, or a flipped parameter) is indexed backwards, never copied.

1D, FFT (``fft.py``): a stride-1, dilation-1 node also gets FFT kernels, and the forward picks per
call: the FFT path when the kernel has at least ``fft_min_taps`` taps (the tuning profile's, 128 by
default) and its left padding is at most K - 1 (causal, 'same', valid), else the direct sum. Both
paths apply the bias and the fused epilogue.
"""

from __future__ import annotations

from agents.template.ir import Branch, Leaf, LeafE, Node, NodeE
from agents.template.templates import fft, fft_fused
from agents.template.templates.common import Ctx, Epilogue, block, warps


def _pad_code(rule: tuple[str, int, int], k: str, dil: int) -> tuple[str, str]:
    kind, left, right = rule
    if kind == "same":
        return f"{dil} * ({k} - 1) // 2", f"{dil} * ({k} - 1) // 2"
    if kind == "causal":
        return f"{dil} * ({k} - 1)", "0"
    if kind == "valid":
        return "0", "0"
    return str(left), str(right)


def emit(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    """Kernel source and forward lines; ``alloc`` is a format string allocating ``out`` from a shape."""
    if node.attrs.get("spatial") == 2:
        return _emit_2d(node, ctx, out, alloc)
    return _emit_1d(node, ctx, out, alloc)


def _emit_2d(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    p = f"n{node.id}_"
    x = ctx.var(node.operands["x"])  # type: ignore[arg-type]
    epi = Epilogue(node.epilogue, 4)
    lines = [f"{p}x = {x}", f"{p}B, {p}C, {p}H, {p}W = {p}x.shape"]
    sh, sw = node.branches[0].stride
    taps = str(ctx.params.get("taps", "unrolled"))
    vector = taps == "vector"
    bkw = int(ctx.params.get("block_kw", 64))
    call_branch: list[str] = []
    const_branch: list[str] = []
    params: list[str] = []
    constexprs: list[str] = []
    body: list[str] = []
    for i, br in enumerate(node.branches):
        w = ctx.var(br.weight)
        dh, dw = br.dilation
        lines.append(f"{p}w{i} = {w}")
        lines.append(f"{p}kh{i}, {p}kw{i} = {p}w{i}.shape[-2], {p}w{i}.shape[-1]")
        (pht, phb), (pwl, pwr) = _pad_code(br.padding[0], f"{p}kh{i}", dh), _pad_code(br.padding[1], f"{p}kw{i}", dw)
        lines.append(f"{p}ph{i}, {p}pw{i} = {pht}, {pwl}")
        if i == 0:
            lines.append(f"{p}OH = ({p}H + {pht} + {phb} - {dh} * ({p}kh0 - 1) - 1) // {sh} + 1")
            lines.append(f"{p}OW = ({p}W + {pwl} + {pwr} - {dw} * ({p}kw0 - 1) - 1) // {sw} + 1")
        bias = ctx.var(br.bias) if br.bias is not None else f"{p}w{i}"
        call_branch.append(
            f"{p}w{i}, {p}w{i}.stride(0), {p}w{i}.stride(-2), {p}w{i}.stride(-1), {bias}, {p}ph{i}, {p}pw{i}, "
        )
        const_branch.append(f"KH{i}={p}kh{i}, KW{i}={p}kw{i}, DH{i}={dh}, DW{i}={dw}, ")
        if vector:
            const_branch.append(f"BLOCK_KW{i}={block(f'{p}kw{i}', bkw)}, ")
        if taps == "strip":
            const_branch.append(f"BLOCK_IW{i}={block(_segment(p, i, sw, dw), 1 << 16)}, ")
            const_branch.append(f"BLOCK_IH{i}={block(f'({p}bh - 1) * {sh} + {dh} * ({p}kh{i} - 1) + 1', 1 << 16)}, ")
        params.append(f"w{i}_ptr, w{i}_s0, w{i}_sh, w{i}_sw, b{i}_ptr, ph{i}, pw{i}, ")
        constexprs.append(f"KH{i}: tl.constexpr, KW{i}: tl.constexpr, DH{i}: tl.constexpr, DW{i}: tl.constexpr, ")
        if vector:
            constexprs.append(f"BLOCK_KW{i}: tl.constexpr, ")
        if taps == "strip":
            constexprs.append(f"BLOCK_IW{i}: tl.constexpr, BLOCK_IH{i}: tl.constexpr, ")
        body += _strip_body(i, br) if taps == "strip" else _branch_body(i, br, vector)
    lines.append(f"{p}shape = ({p}B, {p}C, {p}OH, {p}OW)")
    lines += epi.output(ctx, alloc, p)
    bh, bw = int(ctx.params.get("block_h", 16)), int(ctx.params.get("block_w", 16))
    lines.append(f"{p}bh, {p}bw = {block(f'{p}OH', bh)}, {block(f'{p}OW', bw)}")
    lines.append(f"{p}grid = ({p}B * {p}C, triton.cdiv({p}OH, {p}bh), triton.cdiv({p}OW, {p}bw))")
    lines.append(
        f"{ctx.name}[{p}grid]({p}x, *{p}x.stride(), {out}, *{out}.stride(), {p}C, {p}H, {p}W, {p}OH, {p}OW, "
        + "".join(call_branch)
        + epi.call_args(p)
        + "".join(const_branch)
        + f"SH={sh}, SW={sw}, BLOCK_H={p}bh, BLOCK_W={p}bw, {warps(ctx.params)})"
    )
    epilogue = epi.body(["b", "c", "oh[:, None]", "ow[None, :]"], "out_mask")
    kernel = "\n".join(
        [
            "@triton.jit",
            f"def {ctx.name}(",
            "    x_ptr, xs0, xs1, xs2, xs3, y_ptr, ys0, ys1, ys2, ys3, C, H, W, OH, OW,",
            "    " + "".join(params) + epi.kernel_params(),
            "    " + "".join(constexprs),
            "    SH: tl.constexpr, SW: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr,",
            "):",
            "    plane = tl.program_id(0)",
            "    b = plane // C",
            "    c = plane % C",
            "    oh = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)",
            "    ow = tl.program_id(2) * BLOCK_W + tl.arange(0, BLOCK_W)",
            "    x_base = x_ptr + b * xs0 + c * xs1",
            "    oh_first = tl.program_id(1) * BLOCK_H",
            "    oh_last = tl.minimum(oh_first + BLOCK_H, OH) - 1",
            "    ow_first = tl.program_id(2) * BLOCK_W",
            "    ow_last = tl.minimum(ow_first + BLOCK_W, OW) - 1",
            "    acc = tl.zeros((BLOCK_H, BLOCK_W), dtype=tl.float32)",
            *body,
            "    out_mask = (oh < OH)[:, None] & (ow < OW)[None, :]",
            *epilogue,
            "    y_ptrs = y_ptr + b * ys0 + c * ys1 + oh[:, None] * ys2 + ow[None, :] * ys3",
            "    tl.store(y_ptrs, acc.to(y_ptr.dtype.element_ty), mask=out_mask)",
        ]
    )
    return kernel, lines


def _segment(p: str, i: int, sw: int, dw: int) -> str:
    """Launch code: the input columns one output strip of branch ``i`` reads (all its taps)."""
    return f"({p}bw - 1) * {sw} + {dw} * ({p}kw{i} - 1) + 1"


def _strip_body(i: int, br: Branch) -> list[str]:
    """One branch's accumulation with input reuse across the output strip.

    Per kernel row, the program loads the input segment its BLOCK_W outputs read through all KW
    taps once (``(BLOCK_W - 1) * SW + (KW - 1) * DW + 1`` columns, padded to BLOCK_IW, lanes past
    it masked off), and every tap takes its shifted view of that segment with ``tl.gather``: one
    global load per input element and kernel row, not one per multiply-add. Kernel rows and columns
    whose inputs all lie outside the image for this tile are skipped, not masked. A vertical band
    (``KW == 1``, a constexpr branch) loads the ``BLOCK_IH`` input rows the tile's outputs read through
    all KH taps once instead, and each tap takes its rows with ``tl.gather`` along the rows.
    """
    flip = set(br.weight.flip)
    kh_idx = f"(KH{i} - 1 - kh)" if -2 in flip else "kh"
    kw_idx = f"(KW{i} - 1 - kw)" if -1 in flip else "kw"
    column = [  # a vertical band (one kernel column): the input rows of the tile once, taps gathered by row
        f"        lo{i} = ph{i} - oh_last * SH",
        f"        kh_lo{i} = tl.where(lo{i} > 0, (tl.maximum(lo{i}, 0) + DH{i} - 1) // DH{i}, 0)",
        f"        hi{i} = H - 1 + ph{i} - oh_first * SH",
        f"        kh_hi{i} = tl.minimum(tl.where(hi{i} >= 0, tl.maximum(hi{i}, 0) // DH{i} + 1, 0), KH{i})",
        f"        rseg{i} = tl.arange(0, BLOCK_IH{i})",
        f"        ih{i} = oh_first * SH - ph{i} + rseg{i}",
        f"        rseg_ok{i} = (rseg{i} < (BLOCK_H - 1) * SH + (KH{i} - 1) * DH{i} + 1) & (ih{i} >= 0) & (ih{i} < H)",
        f"        iw{i} = ow * SW - pw{i}",
        f"        ok = rseg_ok{i}[:, None] & ((iw{i} >= 0) & (iw{i} < W) & (ow < OW))[None, :]",
        f"        xs = tl.load(x_base + ih{i}[:, None] * xs2 + iw{i}[None, :] * xs3, mask=ok, other=0.0)",
        "        xs = xs.to(tl.float32)",
        f"        for kh in range(kh_lo{i}, kh_hi{i}):",
        f"            at = tl.arange(0, BLOCK_H) * SH + kh * DH{i}",
        "            xv = tl.gather(xs, tl.broadcast_to(at[:, None], (BLOCK_H, BLOCK_W)), axis=0)",
        f"            wv = tl.load(w{i}_ptr + c * w{i}_s0 + {kh_idx} * w{i}_sh)",
        "            acc += xv * wv.to(tl.float32)",
    ]
    return (
        [f"    if KW{i} == 1:", *column, "    else:"]
        + [
            f"        lo{i} = ph{i} - oh_last * SH",
            f"        kh_lo{i} = tl.where(lo{i} > 0, (tl.maximum(lo{i}, 0) + DH{i} - 1) // DH{i}, 0)",
            f"        hi{i} = H - 1 + ph{i} - oh_first * SH",
            f"        kh_hi{i} = tl.minimum(tl.where(hi{i} >= 0, tl.maximum(hi{i}, 0) // DH{i} + 1, 0), KH{i})",
            f"        clo{i} = pw{i} - ow_last * SW",
            f"        kw_lo{i} = tl.where(clo{i} > 0, (tl.maximum(clo{i}, 0) + DW{i} - 1) // DW{i}, 0)",
            f"        chi{i} = W - 1 + pw{i} - ow_first * SW",
            f"        kw_hi{i} = tl.minimum(tl.where(chi{i} >= 0, tl.maximum(chi{i}, 0) // DW{i} + 1, 0), KW{i})",
            f"        seg{i} = tl.arange(0, BLOCK_IW{i})",
            f"        iw{i} = ow_first * SW - pw{i} + seg{i}",
            f"        seg_ok{i} = (seg{i} < (BLOCK_W - 1) * SW + (KW{i} - 1) * DW{i} + 1) & (iw{i} >= 0) & (iw{i} < W)",
            f"        for kh in range(kh_lo{i}, kh_hi{i}):",
            f"            ih = oh * SH + kh * DH{i} - ph{i}",
            "            row_ok = (ih >= 0) & (ih < H)",
            f"            ok = row_ok[:, None] & seg_ok{i}[None, :]",
            f"            xs = tl.load(x_base + ih[:, None] * xs2 + iw{i}[None, :] * xs3, mask=ok, other=0.0)",
            "            xs = xs.to(tl.float32)",
            f"            for kw in range(kw_lo{i}, kw_hi{i}):",
            f"                at = tl.arange(0, BLOCK_W) * SW + kw * DW{i}",
            "                xv = tl.gather(xs, tl.broadcast_to(at[None, :], (BLOCK_H, BLOCK_W)), axis=1)",
            f"                wv = tl.load(w{i}_ptr + c * w{i}_s0 + {kh_idx} * w{i}_sh + {kw_idx} * w{i}_sw)",
            "                acc += xv * wv.to(tl.float32)",
        ]
        + ([f"    acc += tl.load(b{i}_ptr + c).to(tl.float32)"] if br.bias is not None else [])
    )


def _branch_body(i: int, br: Branch, vector: bool) -> list[str]:
    """One branch's accumulation. Kernel rows outside the valid range for this tile are skipped.

    ``vector``: the kernel columns are a third tile axis (BLOCK_KW) reduced with ``tl.sum`` (few,
    wide steps: fast in the CPU interpreter, one candidate style on a GPU); otherwise they are unrolled.
    """
    flip = set(br.weight.flip)
    kh_idx = f"(KH{i} - 1 - kh)" if -2 in flip else "kh"
    kw_idx = f"(KW{i} - 1 - kw)" if -1 in flip else "kw"
    lines = [
        f"    lo{i} = ph{i} - oh_last * SH",
        f"    kh_lo{i} = tl.where(lo{i} > 0, (tl.maximum(lo{i}, 0) + DH{i} - 1) // DH{i}, 0)",
        f"    hi{i} = H - 1 + ph{i} - oh_first * SH",
        f"    kh_hi{i} = tl.minimum(tl.where(hi{i} >= 0, tl.maximum(hi{i}, 0) // DH{i} + 1, 0), KH{i})",
        f"    for kh in range(kh_lo{i}, kh_hi{i}):",
        f"        ih = oh * SH + kh * DH{i} - ph{i}",
        "        row_ok = (ih >= 0) & (ih < H)",
    ]
    if vector:
        lines += [
            f"        for kw0 in range(0, KW{i}, BLOCK_KW{i}):",
            f"            kw = kw0 + tl.arange(0, BLOCK_KW{i})",
            f"            kw_ok = kw < KW{i}",
            f"            iw = ow[:, None] * SW + kw[None, :] * DW{i} - pw{i}",
            "            col_ok = (iw >= 0) & (iw < W) & kw_ok[None, :]",
            "            ok = row_ok[:, None, None] & col_ok[None, :, :]",
            "            xv = tl.load(x_base + ih[:, None, None] * xs2 + iw[None, :, :] * xs3, mask=ok, other=0.0)",
            f"            wv = tl.load(w{i}_ptr + c * w{i}_s0 + {kh_idx} * w{i}_sh + {kw_idx} * w{i}_sw, mask=kw_ok,",
            "                         other=0.0)",
            "            acc += tl.sum(xv.to(tl.float32) * wv.to(tl.float32)[None, None, :], axis=2)",
        ]
    else:
        lines += [
            f"        for kw in tl.static_range(KW{i}):",
            f"            iw = ow * SW + kw * DW{i} - pw{i}",
            "            ok = row_ok[:, None] & ((iw >= 0) & (iw < W))[None, :]",
            "            xv = tl.load(x_base + ih[:, None] * xs2 + iw[None, :] * xs3, mask=ok, other=0.0)",
            f"            wv = tl.load(w{i}_ptr + c * w{i}_s0 + {kh_idx} * w{i}_sh + {kw_idx} * w{i}_sw)",
            "            acc += xv.to(tl.float32) * wv.to(tl.float32)",
        ]
    if br.bias is not None:
        lines.append(f"    acc += tl.load(b{i}_ptr + c).to(tl.float32)")
    return lines


def _emit_1d(node: Node, ctx: Ctx, out: str, alloc: str) -> tuple[str, list[str]]:
    if len(node.branches) != 1:
        raise ValueError("1D depthwise nodes have one branch")
    p = f"n{node.id}_"
    br = node.branches[0]
    (stride,), (dil,) = br.stride, br.dilation
    x = ctx.var(node.operands["x"])  # type: ignore[arg-type]
    epi = Epilogue(node.epilogue, 3)
    # attrs["pre"]: the input as an expression of tensors of its shape (the gated convolution's
    # pregate * u), evaluated where the kernels read it; operands["x"] is one of them (the shape)
    pro = Epilogue(node.attrs.get("pre"), 3, prefix="p")
    w = ctx.var(br.weight)
    lines = [f"{p}x = {x}", f"{p}B, {p}C, {p}L = {p}x.shape", f"{p}w = {w}", f"{p}K = {p}w.shape[-1]"]
    left, right = _pad_code(br.padding[0], f"{p}K", dil)
    lines.append(f"{p}pad = {left}")
    lines.append(f"{p}OL = ({p}L + {left} + {right} - {dil} * ({p}K - 1) - 1) // {stride} + 1")
    if node.attrs.get("fft"):
        # A filter input (H, K), (1, H, K) or (B, H, K): strides over the output's batch and channels.
        lines.append(f"{p}wv = {p}w.expand({p}B, {p}C, {p}K)")
        lines.append(f"{p}ws = ({p}wv.stride(0), {p}wv.stride(1), {p}wv.stride(2))")
    else:
        lines.append(f"{p}wv = {p}w")
        lines.append(f"{p}ws = (0, {p}w.stride(0), {p}w.stride(-1))")
    lines.append(f"{p}shape = ({p}B, {p}C, {p}OL)")
    lines += epi.output(ctx, alloc, p)
    lines += pro.prelude(ctx, f"{p}x.shape", p)
    bt, bj = int(ctx.params.get("block_t", 64)), int(ctx.params.get("block_j", 64))
    bias = ctx.var(br.bias) if br.bias is not None else None
    flip = -1 in br.weight.flip
    direct = [
        f"{p}bt, {p}bj = {block(f'{p}OL', bt, 16)}, {block(f'{p}K', bj, 16)}",
        f"{p}grid = ({p}B * {p}C, triton.cdiv({p}OL, {p}bt))",
        f"{ctx.name}[{p}grid]({p}x, *{p}x.stride(), {out}, *{out}.stride(), {p}wv, *{p}ws, {bias or p + 'wv'}, "
        f"{p}C, {p}L, {p}OL, {p}K, {p}pad, "
        + pro.call_args(p)
        + epi.call_args(p)
        + f"STRIDE={stride}, DIL={dil}, FLIP={flip}, HAS_BIAS={br.bias is not None}, "
        f"BLOCK_T={p}bt, BLOCK_J={p}bj, {warps(ctx.params)})",
    ]
    fft_kernel = ""
    if fft.eligible(br):
        x_op = node.operands["x"]
        x_expr = pro.expr or (LeafE(x_op) if isinstance(x_op, Leaf) else NodeE(x_op.node))  # type: ignore[union-attr]
        fft_kernel, fft_lines = fft.emit_fft(p, ctx, out, epi, bias, flip, f"{p}x.device", pro, x_expr)
        lines.append(f"if {fft.use_fft_code(p, ctx.params)}:")
        lines += ["    " + line for line in fft_lines]
        lines.append("else:  # a short kernel: the direct sum")
        lines += ["    " + line for line in direct]
    else:
        lines += direct
    epilogue = epi.body(["b", "c", "t"], "t_ok")
    kernel = "\n".join(
        [
            *epi.kernel_head(
                ctx.name,
                [
                    "x_ptr, xs0, xs1, xs2, y_ptr, ys0, ys1, ys2, w_ptr, ws0, ws1, ws2, b_ptr, C, L, OL, K, pad,",
                    *([pro.kernel_params()] if pro.expr is not None else []),
                ],
                [
                    "STRIDE: tl.constexpr, DIL: tl.constexpr, FLIP: tl.constexpr, HAS_BIAS: tl.constexpr,",
                    "BLOCK_T: tl.constexpr, BLOCK_J: tl.constexpr,",
                ],
            ),
            "    plane = tl.program_id(0)",
            "    b = plane // C",
            "    c = plane % C",
            "    t0 = tl.program_id(1) * BLOCK_T",
            "    t = t0 + tl.arange(0, BLOCK_T)",
            "    t_ok = t < OL",
            "    t_last = tl.minimum(t0 + BLOCK_T, OL) - 1",
            "    # taps that reach valid input for some output of this block: 0 <= t*S + j*D - pad < L",
            "    lo_num = pad - t_last * STRIDE",
            "    j_lo = tl.where(lo_num > 0, (tl.maximum(lo_num, 0) + DIL - 1) // DIL, 0)",
            "    hi_num = L - 1 + pad - t0 * STRIDE",
            "    j_hi = tl.minimum(tl.where(hi_num >= 0, tl.maximum(hi_num, 0) // DIL + 1, 0), K)",
            "    acc = tl.zeros([BLOCK_T], dtype=tl.float32)",
            "    x_row = x_ptr + b * xs0 + c * xs1",
            "    w_row = w_ptr + b * ws0 + c * ws1",
            "    for j0 in range(j_lo, j_hi, BLOCK_J):",
            "        j = j0 + tl.arange(0, BLOCK_J)",
            "        j_ok = j < j_hi",
            "        if FLIP:",
            "            wv = tl.load(w_row + (K - 1 - j) * ws2, mask=j_ok, other=0.0)",
            "        else:",
            "            wv = tl.load(w_row + j * ws2, mask=j_ok, other=0.0)",
            "        src = t[:, None] * STRIDE + j[None, :] * DIL - pad",
            "        ok = t_ok[:, None] & j_ok[None, :] & (src >= 0) & (src < L)",
            *fft_fused.input_lines(
                pro, "xv", "b", "src", "ok", "tl.load(x_row + src * xs2, mask=ok, other=0.0)", "        "
            ),
            "        acc += tl.sum(xv.to(tl.float32) * wv.to(tl.float32)[None, :], axis=1)",
            "    if HAS_BIAS:",
            "        acc += tl.load(b_ptr + c).to(tl.float32)",
            *epilogue,
            "    tl.store(y_ptr + b * ys0 + c * ys1 + t * ys2, acc.to(y_ptr.dtype.element_ty), mask=t_ok)",
        ]
    )
    return (f"{fft_kernel}\n\n\n{kernel}" if fft_kernel else kernel), lines
