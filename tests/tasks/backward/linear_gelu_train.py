"""Hand-written honest training kernels for general.linear_gelu: y = gelu(x @ W^T + b) (exact GELU).
The forward keeps the pre-activation z; the backward computes dz = dy * gelu'(z) and the column sums of dz
(the bias gradient) in one kernel, then dx = dz @ W and dW = dz^T @ x with one strided matmul kernel."""

import torch
import torch.nn as nn
import triton
import triton.language as tl


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


class ModelNew(nn.Module):
    def __init__(self, in_features, out_features, dtype):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, dtype=dtype)

    def forward(self, x):
        return LinearGelu.apply(x, self.linear.weight, self.linear.bias)
