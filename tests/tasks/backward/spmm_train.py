"""Hand-written honest training kernels for spmm.csr: y = A @ x with A in CSR (crow, col, values).
Gradients: the dense features' (A^T @ dy, scattered with atomic adds into a float32 buffer) and the
values' (per nonzero (i, j): the dot of dy's row i with x's row j), SpTransX's pattern."""

import torch
import torch.nn as nn
import triton
import triton.language as tl


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


class ModelNew(nn.Module):
    def forward(self, crow_indices, col_indices, values, x):
        return CsrMatmul.apply(crow_indices, col_indices, values, x)
