"""FFT path of a 1D depthwise convolution (stride 1, dilation 1): the long causal convolution.

A convolution of x (length L) with a K-tap filter h is the linear convolution z = x * h (length
L + K - 1), and output t reads z[t + K - 1 - pad]. With N = the next power of two >= L + K - 1 (and
>= OL + K - 1 - pad), z is the inverse DFT of DFT(x) . DFT(h), both zero-padded to N.

Rows whose N fits a program (``N <= fft_fused``, by default ``fft_block``; at most
``fft_fused.MAX_N``) take the fused kernel (``fft_fused.py``): one program a channel and pair of batch
rows, packed as one complex row, with the forward transforms, the product and the inverse in registers;
global memory sees the inputs read and the outputs written once. Longer rows take the multi-pass
kernel below: an iterative radix-2 complex FFT on separate real/imaginary float32 buffers (rows, N), a
buffer row holding two batch rows of a channel (``x_b + i x_b1``, as the fused kernel packs them) when
the filter is shared over the batch:

* forward transforms of the filter (once per distinct filter row: a filter shared over the batch
  is transformed once per channel) and of the signal, by decimation in frequency (natural order in,
  bit-reversed spectrum out; no permutation pass). The first launch reads the input tensors
  directly (any strides and dtype, zero padding, a reversed filter read backwards);
* the inverse transform by decimation in time with conjugate twiddles (bit-reversed in, natural
  order out). Its first launch multiplies the two spectra pointwise (the bit-reversed order is the
  same for both); its last launch scales by 1/N, takes the needed outputs, adds the bias, applies
  the node's fused epilogue (``+ D*u``, gates, activation) and stores in the output dtype.

One launch runs up to ``fft_stages`` butterfly stages: each program owns the elements those
stages only mix among themselves (2^k rows x 2^g contiguous columns of a chunk, ``fft_block``
elements), reads them once, runs the stages on the block held as a [2^k, 2^g] register tensor (a
stage pairs rows r and r + 2^m: a reshape/split/join) and writes it once. ``fft_stages = 1`` is one
launch per stage. Every launch batches all (batch, channel) rows. Twiddles are ``tl.cos``/``tl.sin``
of float32 angles, computed once for each row group a stage shares them over; every value is
accumulated in float32 whatever the I/O dtype.

When: ``dwconv.py`` emits this path next to the direct sum for every stride-1, dilation-1 1D node,
and the forward takes it for kernels of at least ``fft_min_taps`` taps (left padding <= K - 1).
Accuracy measured under the CPU interpreter against the references' ``torch.fft``: relative L2
error <= 2.6e-7 in float32 on the fftconv small shapes (L = 128, 300), 4e-7 at L = 65536.
"""

from __future__ import annotations

import inspect

from agents.template.ir import Branch, Expr
from agents.template.templates import fft_fused
from agents.template.templates.common import Ctx, Epilogue

DEFAULTS = {"fft_min_taps": 128, "fft_block": 2048, "fft_stages": 11, "fft_warps": 4}


def fft_passes(log_n: int, log_block: int, max_stages: int) -> list[tuple[int, int, int]]:
    """The launches of one FFT of length 2^log_n, largest butterfly spans first: (s, k, g) runs the
    k stages of spans 2^(s-1) .. 2^(s-k) inside chunks of 2^s elements, 2^(k+g) elements a program
    (2^g columns; columns of at least 32 elements keep the large-span launches coalesced)."""
    width = min(log_block, log_n)
    tail = min(width, max_stages)
    out: list[tuple[int, int, int]] = []
    top = log_n
    while top > tail:
        k = min(top - tail, max_stages, max(1, log_block - 5))
        out.append((top, k, width - k))
        top -= k
    out.append((tail, tail, width - tail))
    return out


def eligible(branch: Branch) -> bool:
    """The FFT path computes stride-1, dilation-1 convolutions (any padding, read at run time)."""
    return tuple(branch.stride) == (1,) and tuple(branch.dilation) == (1,)


def use_fft_code(p: str, params: dict[str, int]) -> str:
    """The forward's run-time choice: FFT for kernels of at least ``fft_min_taps`` taps."""
    taps = int(params.get("fft_min_taps", DEFAULTS["fft_min_taps"]))
    return f"{p}K >= {taps} and {p}pad <= {p}K - 1"


def emit_fft(
    p: str,
    ctx: Ctx,
    out: str,
    epi: Epilogue,
    bias: str | None,
    flip: bool,
    device: str,
    pro: Epilogue,
    x_expr: Expr,
) -> tuple[str, list[str]]:
    """Kernel source and forward lines of the FFT path of the 1D node with forward prefix ``p``.

    The lines use the 1D emitter's variables: ``{p}x, {p}B, {p}C, {p}L, {p}K, {p}pad, {p}OL,
    {p}wv, {p}ws`` and the epilogue's prelude; ``flip``: the filter is read reversed (the direct
    kernel's FLIP), so the causal filter h[m] is w[m] when set and w[K - 1 - m] otherwise;
    ``pro``: the input's prologue (``Epilogue`` of ``attrs["pre"]``, prefix ``p``; its prelude lines
    ``{p}p<k>`` the emitter's; no expression: ``{p}x`` read as is), evaluated where the signal is read;
    ``x_expr``: the input as the epilogue would name it (``pre``, or the operand's ``LeafE``/``NodeE``).
    """
    kn = f"{ctx.name}_fft"
    log_block = max(1, int(ctx.params.get("fft_block", DEFAULTS["fft_block"])).bit_length() - 1)
    stages = max(1, int(ctx.params.get("fft_stages", DEFAULTS["fft_stages"])))
    nw = int(ctx.params.get("fft_warps", DEFAULTS["fft_warps"]))
    fused_max = min(int(ctx.params.get("fft_fused", 1 << log_block)), fft_fused.MAX_N)
    has_bias = bias is not None
    bias_arg = bias if bias is not None else f"{p}wv"
    common = f"{out}, *{out}.stride(), {bias_arg}, {p}B, {p}C, {p}OL, {p}off, 1.0 / {p}N, {p}N"
    tail = f"HAS_BIAS={has_bias}, num_warps={p}nw)"
    # Warps a launch: up to fft_warps, at least 4 elements of the block a thread.
    per_pass = [f"    {p}nw = min({nw}, max(1, (1 << ({p}k + {p}g)) // 128))"]

    def launch(
        rows: str, bufs: str, src: str, mode: str, inverse: int, out_flag: str, rev: bool, signal: bool = False
    ) -> str:
        pre_on = signal and pro.expr is not None
        return (
            f"    {kn}[({rows} * ({p}N >> ({p}k + {p}g)),)]({bufs}, {src}, {common}, {p}s, "
            + pro.call_args(p)
            + epi.call_args(p)
            + f"K_ST={p}k, LOG_G={p}g, IN_MODE={mode}, SRC_REV={rev}, PRE={int(pre_on)}, "
            f"PAIR={p + 'pair' if signal else 0}, INVERSE={inverse}, OUT={out_flag}, {tail}"
        )

    f32 = f"device={device}, dtype=torch.float32"
    held = f"int({p}off == 0 and {p}L == {p}OL)" if fft_fused.reads(epi, x_expr) else "0"
    fused = [
        f"{kn}_fused[({p}C * triton.cdiv({p}B, 1 + {p}pair),)]({p}x, *{p}x.stride(), {p}wv, *{p}ws, "
        f"{out}, *{out}.stride(), {bias_arg}, {p}B, {p}C, {p}L, {p}K, {p}OL, {p}off, 1.0 / {p}N, "
        + pro.call_args(p)
        + epi.call_args(p)
        + f"LOG_N={p}N.bit_length() - 1, PAIR={p}pair, W_REV={not flip}, HAS_BIAS={has_bias}, X_HELD={held}, "
        f"num_warps={kn}_fused_warps({p}N))",
    ]
    passes = [
        f"{p}passes = {kn}_passes({p}N.bit_length() - 1, {log_block}, {stages})",
        f"{p}fb = {p}B if {p}ws[0] != 0 else 1",
        f"{p}fc = {p}C if {p}ws[1] != 0 else 1",
        f"{p}rows = {p}C * triton.cdiv({p}B, 1 + {p}pair)",
        f"{p}re = torch.empty(({p}rows, {p}N), {f32})",
        f"{p}im = torch.empty(({p}rows, {p}N), {f32})",
        f"{p}fr = torch.empty(({p}fb * {p}fc, {p}N), {f32})",
        f"{p}fi = torch.empty(({p}fb * {p}fc, {p}N), {f32})",
        "# forward FFTs (decimation in frequency): filter rows, then signal rows",
        f"for {p}i, ({p}s, {p}k, {p}g) in enumerate({p}passes):",
        *per_pass,
        launch(
            f"{p}fb * {p}fc",
            f"{p}fr, {p}fi, {p}fr, {p}fi",
            f"{p}wv, *{p}ws, {p}K, {p}fc, 0, 0",
            f"int({p}i == 0)",
            0,
            "0",
            not flip,
        ),
        launch(
            f"{p}rows",
            f"{p}re, {p}im, {p}fr, {p}fi",
            f"{p}x, *{p}x.stride(), {p}L, {p}C, 0, 0",
            f"int({p}i == 0)",
            0,
            "0",
            False,
            True,
        ),
        "# pointwise product, inverse FFT (decimation in time), 1/N, bias and epilogue",
        f"for {p}i, ({p}s, {p}k, {p}g) in enumerate(reversed({p}passes)):",
        *per_pass,
        launch(
            f"{p}rows",
            f"{p}re, {p}im, {p}fr, {p}fi",
            f"{p}x, *{p}x.stride(), {p}L, {p}C, {p}fc if {p}fb > 1 else 0, 1 if {p}fc > 1 else 0",
            f"2 * int({p}i == 0)",
            1,
            f"int({p}i == len({p}passes) - 1)",
            False,
            True,
        ),
    ]
    lines = [
        f"{p}off = {p}K - 1 - {p}pad",
        f"{p}N = max(2, triton.next_power_of_2({p}L + {p}K - 1), triton.next_power_of_2({p}OL + {p}off))",
        f"{p}pair = int({p}ws[0] == 0)  # a filter shared over the batch: two batch rows a transform",
        f"if {p}N <= {fused_max}:  # whole rows a program: the fused kernel",
        *("    " + line for line in fused),
        "else:  # longer rows: forward and inverse FFTs in passes over global buffers",
        *("    " + line for line in passes),
    ]
    return fft_fused.kernel(kn, epi, pro, x_expr) + "\n\n\n" + _kernel(kn, epi, pro), lines


def _source_loads(pro: Epilogue) -> list[str]:
    """The first launch's read of a source row (``IN_MODE`` 1) into ``xr`` (and, ``PAIR``, the next
    batch row into ``xi``): the signal through its prologue (``PRE``) or read as is (a filter, a signal
    without a prologue), zero past ``src_len``."""
    plain = [
        "xr = tl.load(src_row + s1 * ss2, mask=pos < src_len, other=0.0).to(tl.float32)",
        "if PAIR:",
        "    len1 = tl.where(b1 < B, src_len, 0)",
        "    xi = tl.load(src_row + ss0 + s1 * ss2, mask=pos < len1, other=0.0).to(tl.float32)",
        "else:",
        "    xi = tl.zeros([1 << K_ST, 1 << LOG_G], dtype=tl.float32)",
    ]
    if pro.expr is None:
        return ["        " + line for line in plain]
    return [
        "        if PRE:  # the signal as its prologue computes it",
        *fft_fused.input_lines(pro, "xr", "b", "s1", "pos < src_len", "", "            "),
        "            if PAIR:",
        "                len1 = tl.where(b1 < B, src_len, 0)",
        *fft_fused.input_lines(pro, "xi", "b1", "s1", "pos < len1", "", "                "),
        "            else:",
        "                xi = tl.zeros([1 << K_ST, 1 << LOG_G], dtype=tl.float32)",
        "        else:",
        *("            " + line for line in plain),
    ]


SPAN_STAGE = """
@triton.jit
def {kn}_span_stage(xr, xi, low, LOG_LOW, M: tl.constexpr, K_ST: tl.constexpr, LOG_G: tl.constexpr,
                    INVERSE: tl.constexpr):
    \"\"\"One butterfly stage on a program's block held as [2^K_ST, 2^LOG_G] (row r, column q: element
    chunk(q) << LOG_S + r << LOG_LOW + low(q)): rows r and r + 2^M pair up. The twiddle depends on
    the row's bits below M and the column, so it is computed once for all 2^(K_ST-1-M) row groups.\"\"\"
    A: tl.constexpr = 1 << (K_ST - 1 - M)
    BM: tl.constexpr = 1 << (M + LOG_G)
    ar, br = tl.split(tl.permute(tl.reshape(xr, [A, 2, BM]), [0, 2, 1]))
    ai, bi = tl.split(tl.permute(tl.reshape(xi, [A, 2, BM]), [0, 2, 1]))
    k = tl.arange(0, BM)
    lows = tl.reshape(tl.broadcast_to(low[None, :], [1 << M, 1 << LOG_G]), [BM])
    ang = (((k >> LOG_G) << LOG_LOW) + lows).to(tl.float32) * (3.141592653589793 / (1 << (LOG_LOW + M)))
    wr = tl.cos(ang)[None, :]
    if INVERSE:
        # decimation in time: (a, b) -> (a + w b, a - w b)
        wi = tl.sin(ang)[None, :]
        tr = br * wr - bi * wi
        ti = br * wi + bi * wr
        out_a = (ar + tr, ai + ti)
        out_b = (ar - tr, ai - ti)
    else:
        # decimation in frequency: (a, b) -> (a + b, (a - b) w)
        wi = -tl.sin(ang)[None, :]
        dr = ar - br
        di = ai - bi
        out_a = (ar + br, ai + bi)
        out_b = (dr * wr - di * wi, dr * wi + di * wr)
    shape: tl.constexpr = [1 << K_ST, 1 << LOG_G]
    yr = tl.reshape(tl.permute(tl.join(out_a[0], out_b[0]), [0, 2, 1]), shape)
    yi = tl.reshape(tl.permute(tl.join(out_a[1], out_b[1]), [0, 2, 1]), shape)
    return yr, yi
"""


def _kernel(kn: str, epi: Epilogue, pro: Epilogue) -> str:
    outputs = [
        *fft_fused.finish(epi, "1", "pos", "xr", "b", "OL", "        "),
        "        if PAIR:",
        *fft_fused.finish(epi, "2", "pos", "xi", "b1", "OL1", "            "),
    ]
    passes = inspect.getsource(fft_passes).replace("def fft_passes(", f"def {kn}_passes(", 1)
    body = [
        "@triton.jit",
        f"def {kn}(",
        "    re_ptr, im_ptr, fr_ptr, fi_ptr, src_ptr, ss0, ss1, ss2, src_len, src_c, f_sb, f_sc,",
        "    y_ptr, ys0, ys1, ys2, b_ptr, B, C, OL, off, scale, N, LOG_S,",
        "    " + pro.kernel_params() + epi.kernel_params(),
        "    K_ST: tl.constexpr, LOG_G: tl.constexpr, IN_MODE: tl.constexpr,",
        "    SRC_REV: tl.constexpr, INVERSE: tl.constexpr, OUT: tl.constexpr, HAS_BIAS: tl.constexpr,",
        "    PRE: tl.constexpr, PAIR: tl.constexpr,",
        "):",
        "    # The program's block, held in registers for the launch's K_ST stages: 2^K_ST rows (the",
        "    # stages' span bits) x 2^LOG_G columns, element pos = chunk(q) << LOG_S + r << LOG_LOW + low(q).",
        "    # IN_MODE 0: read the buffers; 1: read the real source rows (zero padded); 2: the product",
        "    # of the buffers' and the filter's spectra. OUT: the last launch writes y, not the buffers.",
        "    # PAIR: a buffer row holds batch rows b and b1 = b + 1 of channel c as x_b + i x_b1.",
        "    per_row = N >> (K_ST + LOG_G)",
        "    row = tl.program_id(0) // per_row",
        "    b = (row // C) * (1 + PAIR)",
        "    c = row % C",
        "    b1 = b + 1",
        "    OL1 = tl.where(b1 < B, OL, 0)  # an odd batch's last row pair has one row",
        "    rbase = row.to(tl.int64) * N",
        "    LOG_LOW = LOG_S - K_ST",
        "    col = (tl.program_id(0) % per_row) * (1 << LOG_G) + tl.arange(0, 1 << LOG_G)",
        "    low = col & ((1 << LOG_LOW) - 1)",
        "    pos = (((col >> LOG_LOW) << LOG_S) + low)[None, :] + (tl.arange(0, 1 << K_ST) << LOG_LOW)[:, None]",
        "    if IN_MODE == 1:",
        "        if PAIR:",
        "            src_row = src_ptr + b * ss0 + c * ss1",
        "        else:",
        "            src_row = src_ptr + (row // src_c) * ss0 + (row % src_c) * ss1",
        "        if SRC_REV:",
        "            s1 = src_len - 1 - pos",
        "        else:",
        "            s1 = pos",
        *_source_loads(pro),
        "    elif IN_MODE == 2:",
        "        fbase = (b * f_sb + c * f_sc).to(tl.int64) * N",
        "        ar = tl.load(re_ptr + rbase + pos)",
        "        ai = tl.load(im_ptr + rbase + pos)",
        "        gr = tl.load(fr_ptr + fbase + pos)",
        "        gi = tl.load(fi_ptr + fbase + pos)",
        "        xr = ar * gr - ai * gi",
        "        xi = ar * gi + ai * gr",
        "    else:",
        "        xr = tl.load(re_ptr + rbase + pos)",
        "        xi = tl.load(im_ptr + rbase + pos)",
        "    for st in tl.static_range(K_ST):",
        "        # forward: spans from the largest; inverse: from the smallest",
        f"        xr, xi = {kn}_span_stage(xr, xi, low, LOG_LOW, st * INVERSE + (K_ST - 1 - st) * (1 - INVERSE),",
        "                                 K_ST, LOG_G, INVERSE)",
        "    if OUT:",
        *outputs,
        "    else:",
        "        tl.store(re_ptr + rbase + pos, xr)",
        "        tl.store(im_ptr + rbase + pos, xi)",
    ]
    return passes.strip() + "\n\n\n" + SPAN_STAGE.replace("{kn}", kn).strip() + "\n\n\n" + "\n".join(body)
