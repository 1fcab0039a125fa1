"""The training templates' kernels and ``torch.autograd.Function`` per recognised op (Triton source text).

Each entry is the text of top-level ``@triton.jit`` kernels and one ``torch.autograd.Function`` whose
``forward`` and ``backward`` only allocate, take views and launch them; the candidate's ``ModelNew``
calls its ``apply`` (:mod:`agents.template.training`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainingSource:
    function: str
    """The ``torch.autograd.Function`` subclass the candidate's forward applies."""
    text: str
    summary: str


DWCONV2D = TrainingSource(
    "DepthwiseConv",
    """
@triton.jit
def dw_fwd(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, KH: tl.constexpr, KW: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr):
    plane = tl.program_id(0)
    c = plane % C
    oh = tl.arange(0, BH)
    ow = tl.arange(0, BW)
    acc = tl.zeros((BH, BW), dtype=tl.float32)
    for kh in range(KH):  # a loop at run time: 31x31 or 51x51 taps unrolled would not compile in minutes
        ih = oh + kh - (KH - 1) // 2
        for kw in tl.static_range(KW):
            iw = ow + kw - (KW - 1) // 2
            m = ((ih >= 0) & (ih < H))[:, None] & ((iw >= 0) & (iw < W))[None, :]
            x = tl.load(x_ptr + plane * H * W + ih[:, None] * W + iw[None, :], mask=m, other=0.0)
            acc += x.to(tl.float32) * tl.load(w_ptr + c * KH * KW + kh * KW + kw).to(tl.float32)
    acc += tl.load(b_ptr + c).to(tl.float32)
    m = (oh[:, None] < H) & (ow[None, :] < W)
    tl.store(y_ptr + plane * H * W + oh[:, None] * W + ow[None, :], acc.to(y_ptr.dtype.element_ty), mask=m)


@triton.jit
def dw_bwd_input(
    go_ptr, w_ptr, gx_ptr, C, H, W, KH: tl.constexpr, KW: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr
):
    plane = tl.program_id(0)
    c = plane % C
    ih = tl.arange(0, BH)
    iw = tl.arange(0, BW)
    acc = tl.zeros((BH, BW), dtype=tl.float32)
    for kh in range(KH):  # a loop at run time, as in dw_fwd
        oh = ih - kh + (KH - 1) // 2
        for kw in tl.static_range(KW):
            ow = iw - kw + (KW - 1) // 2
            m = ((oh >= 0) & (oh < H))[:, None] & ((ow >= 0) & (ow < W))[None, :]
            g = tl.load(go_ptr + plane * H * W + oh[:, None] * W + ow[None, :], mask=m, other=0.0)
            acc += g.to(tl.float32) * tl.load(w_ptr + c * KH * KW + kh * KW + kw).to(tl.float32)
    m = (ih[:, None] < H) & (iw[None, :] < W)
    tl.store(gx_ptr + plane * H * W + ih[:, None] * W + iw[None, :], acc.to(gx_ptr.dtype.element_ty), mask=m)


@triton.jit
def dw_bwd_weight(
    go_ptr, x_ptr, gw_ptr, gb_ptr, N, C, H, W, KH: tl.constexpr, KW: tl.constexpr, BH: tl.constexpr, BW: tl.constexpr
):
    c = tl.program_id(0)
    tap = tl.program_id(1)
    kh = tap // KW
    kw = tap % KW
    oh = tl.arange(0, BH)
    ow = tl.arange(0, BW)
    ih = oh + kh - (KH - 1) // 2
    iw = ow + kw - (KW - 1) // 2
    out_m = (oh[:, None] < H) & (ow[None, :] < W)
    in_m = out_m & ((ih >= 0) & (ih < H))[:, None] & ((iw >= 0) & (iw < W))[None, :]
    acc = tl.zeros((BH, BW), dtype=tl.float32)
    acc_b = tl.zeros((BH, BW), dtype=tl.float32)
    for n in range(N):
        base = (n * C + c) * H * W
        g = tl.load(go_ptr + base + oh[:, None] * W + ow[None, :], mask=out_m, other=0.0).to(tl.float32)
        x = tl.load(x_ptr + base + ih[:, None] * W + iw[None, :], mask=in_m, other=0.0).to(tl.float32)
        acc += g * x
        acc_b += g
    tl.store(gw_ptr + c * KH * KW + tap, tl.sum(tl.sum(acc, axis=1), axis=0).to(gw_ptr.dtype.element_ty))
    if tap == 0:
        tl.store(gb_ptr + c, tl.sum(tl.sum(acc_b, axis=1), axis=0).to(gb_ptr.dtype.element_ty))


class DepthwiseConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        x = x.contiguous()
        n, c, h, w = x.shape
        kh, kw = weight.shape[-2], weight.shape[-1]
        bh, bw = triton.next_power_of_2(h), triton.next_power_of_2(w)
        y = torch.empty_like(x)
        dw_fwd[(n * c,)](x, weight, bias, y, c, h, w, KH=kh, KW=kw, BH=bh, BW=bw)
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        go = grad_out.contiguous()
        n, c, h, w = x.shape
        kh, kw = weight.shape[-2], weight.shape[-1]
        bh, bw = triton.next_power_of_2(h), triton.next_power_of_2(w)
        gx = torch.empty_like(x)
        gw = torch.empty_like(weight)
        gb = torch.empty(c, dtype=weight.dtype, device=weight.device)
        dw_bwd_input[(n * c,)](go, weight, gx, c, h, w, KH=kh, KW=kw, BH=bh, BW=bw)
        dw_bwd_weight[(c, kh * kw)](go, x, gw, gb, n, c, h, w, KH=kh, KW=kw, BH=bh, BW=bw)
        return gx, gw, gb
""",
    "depthwise 2D convolution: input gradient by the flipped kernel, weight and bias gradients summed",
)

_CAUSAL = """
@triton.jit
def causal_fwd(
    x_ptr, w_ptr, b_ptr, d_ptr, y_ptr, C, L, K, HAS_BIAS: tl.constexpr, HAS_SKIP: tl.constexpr, BL: tl.constexpr
):
    row = tl.program_id(0)
    c = row % C
    t = tl.arange(0, BL)
    acc = tl.zeros((BL,), dtype=tl.float32)
    for j in range(K):
        m = (t >= j) & (t < L)
        x = tl.load(x_ptr + row * L + t - j, mask=m, other=0.0).to(tl.float32)
        acc += x * tl.load(w_ptr + c * K + j).to(tl.float32)
    if HAS_BIAS:
        acc += tl.load(b_ptr + c).to(tl.float32)
    if HAS_SKIP:
        x_t = tl.load(x_ptr + row * L + t, mask=t < L, other=0.0).to(tl.float32)
        acc += x_t * tl.load(d_ptr + c).to(tl.float32)
    tl.store(y_ptr + row * L + t, acc.to(y_ptr.dtype.element_ty), mask=t < L)


@triton.jit
def causal_bwd_input(go_ptr, w_ptr, d_ptr, gx_ptr, C, L, K, HAS_SKIP: tl.constexpr, BL: tl.constexpr):
    row = tl.program_id(0)
    c = row % C
    s = tl.arange(0, BL)
    acc = tl.zeros((BL,), dtype=tl.float32)
    for j in range(K):
        g = tl.load(go_ptr + row * L + s + j, mask=s + j < L, other=0.0).to(tl.float32)
        acc += g * tl.load(w_ptr + c * K + j).to(tl.float32)
    if HAS_SKIP:
        g_s = tl.load(go_ptr + row * L + s, mask=s < L, other=0.0).to(tl.float32)
        acc += g_s * tl.load(d_ptr + c).to(tl.float32)
    tl.store(gx_ptr + row * L + s, acc.to(gx_ptr.dtype.element_ty), mask=s < L)


@triton.jit
def causal_bwd_weight(
    go_ptr, x_ptr, gw_ptr, gb_ptr, gd_ptr, B, C, L, K, HAS_BIAS: tl.constexpr, HAS_SKIP: tl.constexpr, BL: tl.constexpr
):
    c = tl.program_id(0)
    j = tl.program_id(1)
    t = tl.arange(0, BL)
    acc = tl.zeros((BL,), dtype=tl.float32)
    acc_b = tl.zeros((BL,), dtype=tl.float32)
    for b in range(B):
        base = (b * C + c) * L
        g = tl.load(go_ptr + base + t, mask=t < L, other=0.0).to(tl.float32)
        x = tl.load(x_ptr + base + t - j, mask=(t >= j) & (t < L), other=0.0).to(tl.float32)
        acc += g * x
        acc_b += g
    tl.store(gw_ptr + c * K + j, tl.sum(acc, axis=0).to(gw_ptr.dtype.element_ty))
    if HAS_BIAS:
        if j == 0:
            tl.store(gb_ptr + c, tl.sum(acc_b, axis=0).to(gb_ptr.dtype.element_ty))
    if HAS_SKIP:
        if j == 0:
            tl.store(gd_ptr + c, tl.sum(acc, axis=0).to(gd_ptr.dtype.element_ty))


def _causal_forward(x, w, bias, d):
    x = x.contiguous()
    b, c, length = x.shape
    y = torch.empty_like(x)
    causal_fwd[(b * c,)](
        x, w, x if bias is None else bias, x if d is None else d, y, c, length, w.shape[-1],
        HAS_BIAS=bias is not None, HAS_SKIP=d is not None, BL=triton.next_power_of_2(length),
    )
    return x, y


def _causal_backward(grad_out, x, w, has_bias, d):
    go = grad_out.contiguous()
    b, c, length = x.shape
    k = w.shape[-1]
    block = triton.next_power_of_2(length)
    gx = torch.empty_like(x)
    gw = torch.empty_like(w)
    gb = torch.empty(c, dtype=w.dtype, device=w.device) if has_bias else None
    gd = torch.empty_like(d) if d is not None else None
    causal_bwd_input[(b * c,)](go, w, x if d is None else d, gx, c, length, k, HAS_SKIP=d is not None, BL=block)
    causal_bwd_weight[(c, k)](
        go, x, gw, gx if gb is None else gb, gx if gd is None else gd, b, c, length, k,
        HAS_BIAS=has_bias, HAS_SKIP=d is not None, BL=block,
    )
    return gx, gw, gb, gd
"""
"""Causal depthwise 1D convolution kernels shared by the causal and the long convolution: the input gradient is
an anti-causal correlation, the kernel gradient a sum over batch and time per channel and lag; an optional bias
and an optional D skip (``y += D[c] x``)."""

CAUSAL1D = TrainingSource(
    "CausalConv",
    _CAUSAL
    + """

class CausalConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        x, y = _causal_forward(x, weight, bias, None)
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        gx, gw, gb, _ = _causal_backward(grad_out, x, weight, True, None)
        return gx, gw, gb
""",
    "causal depthwise 1D convolution: anti-causal input gradient, kernel and bias gradients",
)

LONGCONV = TrainingSource(
    "LongConv",
    _CAUSAL
    + """

class LongConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, k, d):
        u, y = _causal_forward(u, k.contiguous(), None, d)
        ctx.save_for_backward(u, k.contiguous(), d)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        u, k, d = ctx.saved_tensors
        gu, gk, _, gd = _causal_backward(grad_out, u, k, False, d)
        return gu, gk, gd
""",
    "long convolution summed directly (O(L^2)): input, filter and skip gradients",
)

CSR = TrainingSource(
    "CsrMatmul",
    """
@triton.jit
def csr_fwd(crow_ptr, col_ptr, val_ptr, x_ptr, y_ptr, F, BF: tl.constexpr):
    i = tl.program_id(0)
    f = tl.arange(0, BF)
    fm = f < F
    start = tl.load(crow_ptr + i)
    end = tl.load(crow_ptr + i + 1)
    acc = tl.zeros((BF,), dtype=tl.float32)
    for e in range(start, end):
        j = tl.load(col_ptr + e)
        v = tl.load(val_ptr + e).to(tl.float32)
        acc += v * tl.load(x_ptr + j * F + f, mask=fm, other=0.0).to(tl.float32)
    tl.store(y_ptr + i * F + f, acc.to(y_ptr.dtype.element_ty), mask=fm)


@triton.jit
def csr_bwd(crow_ptr, col_ptr, val_ptr, x_ptr, go_ptr, gx_ptr, gv_ptr, F, BF: tl.constexpr):
    i = tl.program_id(0)
    f = tl.arange(0, BF)
    fm = f < F
    start = tl.load(crow_ptr + i)
    end = tl.load(crow_ptr + i + 1)
    g = tl.load(go_ptr + i * F + f, mask=fm, other=0.0).to(tl.float32)
    for e in range(start, end):
        j = tl.load(col_ptr + e)
        v = tl.load(val_ptr + e).to(tl.float32)
        x = tl.load(x_ptr + j * F + f, mask=fm, other=0.0).to(tl.float32)
        tl.store(gv_ptr + e, tl.sum(g * x, axis=0).to(gv_ptr.dtype.element_ty))
        tl.atomic_add(gx_ptr + j * F + f, v * g, mask=fm)


class CsrMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, crow, col, values, x):
        x = x.contiguous()
        n, f = x.shape
        y = torch.empty_like(x)
        csr_fwd[(n,)](crow, col, values, x, y, f, BF=triton.next_power_of_2(f))
        ctx.save_for_backward(crow, col, values, x)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        crow, col, values, x = ctx.saved_tensors
        go = grad_out.contiguous()
        n, f = x.shape
        gx = torch.zeros((n, f), dtype=torch.float32, device=x.device)
        gv = torch.empty_like(values)
        csr_bwd[(n,)](crow, col, values, x, go, gx, gv, f, BF=triton.next_power_of_2(f))
        return None, None, gv, gx.to(x.dtype)
""",
    "CSR SpMM: dense-feature gradient by atomic adds, value gradient by a dot per nonzero",
)

LINEAR_GELU = TrainingSource(
    "LinearGelu",
    """
@triton.jit
def matmul_kernel(
    a_ptr, b_ptr, c_ptr, M, N, K, sam, sak, sbk, sbn, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr
):
    pm = tl.program_id(0)
    pn = tl.program_id(1)
    rm = pm * BM + tl.arange(0, BM)
    rn = pn * BN + tl.arange(0, BN)
    rk = tl.arange(0, BK)
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for k0 in range(0, K, BK):
        ka = k0 + rk
        a = tl.load(
            a_ptr + rm[:, None] * sam + ka[None, :] * sak, mask=(rm[:, None] < M) & (ka[None, :] < K), other=0.0
        )
        b = tl.load(
            b_ptr + ka[:, None] * sbk + rn[None, :] * sbn, mask=(ka[:, None] < K) & (rn[None, :] < N), other=0.0
        )
        acc += tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
    m = (rm[:, None] < M) & (rn[None, :] < N)
    tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc.to(c_ptr.dtype.element_ty), mask=m)


@triton.jit
def bias_gelu_fwd(z_ptr, b_ptr, y_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr):
    rm = tl.program_id(0) * BM + tl.arange(0, BM)
    rn = tl.program_id(1) * BN + tl.arange(0, BN)
    m = (rm[:, None] < M) & (rn[None, :] < N)
    offs = rm[:, None] * N + rn[None, :]
    z = tl.load(z_ptr + offs, mask=m, other=0.0) + tl.load(b_ptr + rn, mask=rn < N, other=0.0).to(tl.float32)[None, :]
    tl.store(z_ptr + offs, z, mask=m)
    y = 0.5 * z * (1.0 + tl.math.erf(z * 0.7071067811865476))
    tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=m)


@triton.jit
def gelu_bwd(z_ptr, go_ptr, dz_ptr, gb_ptr, M, N, BM: tl.constexpr, BN: tl.constexpr):
    rn = tl.program_id(0) * BN + tl.arange(0, BN)
    acc = tl.zeros((BN,), dtype=tl.float32)
    for m0 in range(0, M, BM):
        rm = m0 + tl.arange(0, BM)
        m = (rm[:, None] < M) & (rn[None, :] < N)
        offs = rm[:, None] * N + rn[None, :]
        z = tl.load(z_ptr + offs, mask=m, other=0.0)
        g = tl.load(go_ptr + offs, mask=m, other=0.0).to(tl.float32)
        cdf = 0.5 * (1.0 + tl.math.erf(z * 0.7071067811865476))
        pdf = tl.exp(-0.5 * z * z) * 0.3989422804014327
        dz = g * (cdf + z * pdf)
        tl.store(dz_ptr + offs, dz, mask=m)
        acc += tl.sum(dz, axis=0)
    tl.store(gb_ptr + rn, acc.to(gb_ptr.dtype.element_ty), mask=rn < N)


class LinearGelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        x = x.contiguous()
        t, i = x.shape
        o = weight.shape[0]
        z = torch.empty((t, o), dtype=torch.float32, device=x.device)
        y = torch.empty((t, o), dtype=x.dtype, device=x.device)
        grid = (triton.cdiv(t, 16), triton.cdiv(o, 16))
        matmul_kernel[grid](x, weight, z, t, o, i, i, 1, 1, i, BM=16, BN=16, BK=16)
        bias_gelu_fwd[grid](z, bias, y, t, o, BM=16, BN=16)
        ctx.save_for_backward(x, weight, z)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, z = ctx.saved_tensors
        go = grad_out.contiguous()
        t, i = x.shape
        o = weight.shape[0]
        dz = torch.empty((t, o), dtype=torch.float32, device=x.device)
        gb = torch.empty(o, dtype=weight.dtype, device=x.device)
        gelu_bwd[(triton.cdiv(o, 16),)](z, go, dz, gb, t, o, BM=16, BN=16)
        gx = torch.empty_like(x)
        matmul_kernel[(triton.cdiv(t, 16), triton.cdiv(i, 16))](
            dz, weight, gx, t, i, o, o, 1, i, 1, BM=16, BN=16, BK=16
        )
        gw = torch.empty_like(weight)
        matmul_kernel[(triton.cdiv(o, 16), triton.cdiv(i, 16))](dz, x, gw, o, i, t, 1, o, i, 1, BM=16, BN=16, BK=16)
        return gx, gw, gb
""",
    "linear + exact GELU: dz = dy * gelu'(z) with the bias gradient, then two strided matmuls",
)
