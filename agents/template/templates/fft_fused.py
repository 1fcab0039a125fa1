"""The fused FFT convolution: one program a row pair, forward FFT, product and inverse in registers.

For rows whose transform length N fits a program (``N <= fft_block``), ``fft.py`` launches this kernel
instead of its multi-pass one. A program holds, for one channel:

* ``z = x_a + i x_b``: two real rows (batches ``2q`` and ``2q + 1``) packed into one complex row, zero
  padded to N. The two rows share the channel's filter, so the product of their packed spectrum with
  the filter's is the packed spectrum of the two outputs: ``IFFT(FFT(z) . H) = x_a * h + i x_b * h``,
  both convolutions real, read back as the real and imaginary parts (no spectrum separation needed).
  A filter per batch row (``ws0 != 0``) takes one row a program (``PAIR=0``).
* ``H``: the filter's spectrum, transformed in the same stage loop as ``z`` (the same twiddles).

The FFT is Pease's constant-geometry radix-2 form: every forward stage pairs element ``m`` of the
first half with element ``m`` of the second (``(a, b) -> (a + b, (a - b) w)``) and interleaves the
results, so each stage is the same reshape/split/join of the register tensors; the spectrum comes out
in bit-reversed order, which the pointwise product does not mind, and the inverse runs the stages
backwards (de-interleave, ``(a, b) -> (a + b conj(w), a - b conj(w))``, concatenate), back to natural
order. Stage ``s`` multiplies by ``exp(-2 pi i (m >> s << s) / N)``: its table of the
``N / 2^(s+1)`` distinct values is computed once a program (``tl.cos``/``tl.sin``) and broadcast over
the butterflies that share them, ``N - 1`` values a transform instead of one a butterfly.

Global memory is touched once: the rows, the filter row, the bias and the epilogue's inputs read,
the outputs written. Every value is float32 whatever the I/O dtype. Accuracy measured under the CPU
interpreter against a float64 ``torch.fft`` reference: relative L2 error <= 1.8e-7 in float32 at
L = 128, 300 and 2048 (N = 256, 1024, 4096), long and gated forms.
"""

from __future__ import annotations

import inspect

from agents.template.ir import Expr
from agents.template.templates.common import Epilogue, same_expr

MAX_N = 4096  # the longest transform a program holds (16 warps); 8192 spilled at 16 and 32 warps


def fused_warps(n: int) -> int:
    """Warps for a length-n transform: 4 values of each array a thread up to n = 1024, 8 above (the
    sm_90 builds spilled at 8 a thread for n = 512 and 1024, at 4 a thread for n = 2048 and 4096)."""
    return max(1, min(n // 128, max(8, n // 256)))


HELPERS = '''
@triton.jit
def {kn}_twiddles(S: tl.constexpr, LOG_N: tl.constexpr, SIGN: tl.constexpr):
    """Stage S's twiddle for each of the N/2 butterflies: exp(SIGN 2 pi i r / 2^(LOG_N - S)) for
    butterfly m = r 2^S + j (j < 2^S), the 2^(LOG_N - 1 - S) distinct values computed once."""
    r = tl.arange(0, 1 << (LOG_N - 1 - S)).to(tl.float32)
    ang = r * (SIGN * 6.283185307179586 / (1 << (LOG_N - S)))
    shape: tl.constexpr = [1 << (LOG_N - 1 - S), 1 << S]
    wr = tl.reshape(tl.broadcast_to(tl.cos(ang)[:, None], shape), [1 << (LOG_N - 1)])
    wi = tl.reshape(tl.broadcast_to(tl.sin(ang)[:, None], shape), [1 << (LOG_N - 1)])
    return wr, wi


@triton.jit
def {kn}_forward_stage(re, im, wr, wi, LOG_N: tl.constexpr):
    """A decimation-in-frequency stage: halves a, b -> interleaved (a + b, (a - b) w)."""
    HALF: tl.constexpr = 1 << (LOG_N - 1)
    ar, br = tl.split(tl.permute(tl.reshape(re, [2, HALF]), [1, 0]))
    ai, bi = tl.split(tl.permute(tl.reshape(im, [2, HALF]), [1, 0]))
    dr = ar - br
    di = ai - bi
    out_r = tl.reshape(tl.join(ar + br, dr * wr - di * wi), [2 * HALF])
    out_i = tl.reshape(tl.join(ai + bi, dr * wi + di * wr), [2 * HALF])
    return out_r, out_i


@triton.jit
def {kn}_inverse_stage(re, im, wr, wi, LOG_N: tl.constexpr):
    """The forward stage undone (twice over, the 1/2 left to the end; w conjugated by the caller):
    interleaved a, b -> halves (a + b w, a - b w)."""
    HALF: tl.constexpr = 1 << (LOG_N - 1)
    ar, br = tl.split(tl.reshape(re, [HALF, 2]))
    ai, bi = tl.split(tl.reshape(im, [HALF, 2]))
    tr = br * wr - bi * wi
    ti = br * wi + bi * wr
    out_r = tl.reshape(tl.permute(tl.join(ar + tr, ar - tr), [1, 0]), [2 * HALF])
    out_i = tl.reshape(tl.permute(tl.join(ai + ti, ai - ti), [1, 0]), [2 * HALF])
    return out_r, out_i
'''


def finish(
    epi: Epilogue,
    tag: str,
    pos: str,
    value: str,
    b: str,
    ol: str,
    indent: str,
    held: list[tuple[Expr, str]] | None = None,
) -> list[str]:
    """Kernel lines that store the convolution ``value`` held at positions ``pos`` of batch row ``b``:
    output ``t = pos - off`` where ``0 <= t < ol``, scaled by 1/N, the bias added, the node's epilogue
    applied (``held``: values of it already in registers), cast to the output's dtype. ``tag`` names
    the lines' variables."""
    t, ok, acc = f"t{tag}", f"t{tag}_ok", f"acc{tag}"
    return [
        f"{indent}{t} = {pos} - off",
        f"{indent}{ok} = ({t} >= 0) & ({t} < {ol})",
        f"{indent}{acc} = {value} * scale",
        f"{indent}if HAS_BIAS:",
        f"{indent}    {acc} += tl.load(b_ptr + c).to(tl.float32)",
        *epi.body([b, "c", t], ok, acc=acc, indent=indent, held=held),
        f"{indent}tl.store(y_ptr + {b} * ys0 + c * ys1 + {t} * ys2, {acc}.to(y_ptr.dtype.element_ty), mask={ok})",
    ]


def input_lines(pro: Epilogue, var: str, b: str, pos: str, ok: str, plain: str, indent: str) -> list[str]:
    """Kernel lines that set ``var`` to the convolution's input at ``(b, c, pos)`` where ``ok``, 0
    elsewhere (zero padding): the load ``plain``, or the node's prologue ``pro`` (the input as an
    expression of tensors, e.g. ``pregate * u``) evaluated on their values."""
    if pro.expr is None:
        return [f"{indent}{var} = {plain}"]
    return [*pro.body([b, "c", pos], ok, acc=var, indent=indent), f"{indent}{var} = tl.where({ok}, {var}, 0.0)"]


def _outputs(epi: Epilogue, x_expr: Expr) -> list[str]:
    """The stores of the program's one or two rows. With ``X_HELD`` (the epilogue reads the
    convolution's input ``x_expr`` at the output's index: ``off == 0`` and ``OL == L``), the rows
    the kernel loaded before the transform serve it instead of a second read."""

    def rows(held: tuple[list[tuple[Expr, str]], list[tuple[Expr, str]]], indent: str) -> list[str]:
        return [
            *finish(epi, "0", "n", "zr", "b0", "OL", indent, held[0]),
            f"{indent}if PAIR:",
            *finish(epi, "1", "n", "zi", "b1", "OL1", indent + "    ", held[1]),
        ]

    if not reads(epi, x_expr):
        return rows(([], []), "    ")
    held = ([(x_expr, "x0")], [(x_expr, "x1")])
    return ["    if X_HELD:", *rows(held, "        "), "    else:", *rows(([], []), "        ")]


def reads(epi: Epilogue, x_expr: Expr) -> bool:
    """Whether the epilogue computes ``x_expr`` (the convolution's input) somewhere."""
    return epi.expr is not None and any(same_expr(e, x_expr) for e in epi.expr.walk())


def kernel(kn: str, epi: Epilogue, pro: Epilogue, x_expr: Expr) -> str:
    """The helpers and the fused kernel ``{kn}_fused``: one program a channel and batch-row pair.
    ``pro``: the input's prologue (no expression: ``x`` is read as is); ``x_expr``: the input as the
    epilogue would name it."""

    def load_row(var: str, b: str, ok: str, indent: str) -> list[str]:
        plain = f"tl.load(x_ptr + {b} * xs0 + c * xs1 + n * xs2, mask={ok}, other=0.0).to(tl.float32)"
        return input_lines(pro, var, b, "n", ok, plain, indent)

    params = "x_ptr, xs0, xs1, xs2, w_ptr, ws0, ws1, ws2, y_ptr, ys0, ys1, ys2, b_ptr, B, C, L, K, OL, off, scale,"
    body = [
        *epi.kernel_head(
            f"{kn}_fused",
            [params, pro.kernel_params()] if pro.expr is not None else [params],
            [
                "LOG_N: tl.constexpr, PAIR: tl.constexpr, W_REV: tl.constexpr, HAS_BIAS: tl.constexpr,",
                "X_HELD: tl.constexpr,",
            ],
        ),
        "    # channel c; batch rows b0 and, PAIR, b1 = b0 + 1 packed as z = x_b0 + i x_b1 (zero padded)",
        "    c = tl.program_id(0) % C",
        "    b0 = (tl.program_id(0) // C) * (1 + PAIR)",
        "    b1 = b0 + 1",
        "    n = tl.arange(0, 1 << LOG_N)",
        *load_row("zr", "b0", "n < L", "    "),
        "    if PAIR:",
        "        live = b1 < B  # an odd batch's last program has one row",
        "        L1 = tl.where(live, L, 0)",
        "        OL1 = tl.where(live, OL, 0)",
        *load_row("zi", "b1", "n < L1", "        "),
        "    else:",
        "        zi = tl.zeros([1 << LOG_N], dtype=tl.float32)",
        "    x0 = zr",
        "    x1 = zi",
        "    # the causal filter h[n] (w read backwards when W_REV), zero padded",
        "    if W_REV:",
        "        tap = K - 1 - n",
        "    else:",
        "        tap = n",
        "    hr = tl.load(w_ptr + b0 * ws0 + c * ws1 + tap * ws2, mask=n < K, other=0.0).to(tl.float32)",
        "    hi = tl.zeros([1 << LOG_N], dtype=tl.float32)",
        "    for s in tl.static_range(LOG_N):",
        f"        wr, wi = {kn}_twiddles(s, LOG_N, -1.0)",
        f"        zr, zi = {kn}_forward_stage(zr, zi, wr, wi, LOG_N)",
        f"        hr, hi = {kn}_forward_stage(hr, hi, wr, wi, LOG_N)",
        "    # the spectra's product (both bit-reversed), then the inverse back to natural order",
        "    pr = zr * hr - zi * hi",
        "    zi = zr * hi + zi * hr",
        "    zr = pr",
        "    for s in tl.static_range(LOG_N):",
        f"        wr, wi = {kn}_twiddles(LOG_N - 1 - s, LOG_N, 1.0)",
        f"        zr, zi = {kn}_inverse_stage(zr, zi, wr, wi, LOG_N)",
        *_outputs(epi, x_expr),
    ]
    warps = inspect.getsource(fused_warps).replace("def fused_warps(", f"def {kn}_fused_warps(", 1)
    return warps.strip() + "\n\n\n" + HELPERS.replace("{kn}", kn).strip() + "\n\n\n" + "\n".join(body)
