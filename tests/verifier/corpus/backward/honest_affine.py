"""Honest: a torch.autograd.Function whose forward and backward launch Triton kernels.
expect: accepted
static: none
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def affine_fwd(x_ptr, w_ptr, b_ptr, y_ptr, C, L, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    c = row % C
    offs = tl.arange(0, BLOCK)
    m = offs < L
    x = tl.load(x_ptr + row * L + offs, mask=m, other=0.0)
    tl.store(y_ptr + row * L + offs, x * tl.load(w_ptr + c) + tl.load(b_ptr + c), mask=m)


@triton.jit
def affine_bwd_input(go_ptr, w_ptr, gx_ptr, C, L, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    c = row % C
    offs = tl.arange(0, BLOCK)
    m = offs < L
    go = tl.load(go_ptr + row * L + offs, mask=m, other=0.0)
    tl.store(gx_ptr + row * L + offs, go * tl.load(w_ptr + c), mask=m)


@triton.jit
def affine_bwd_params(go_ptr, x_ptr, gw_ptr, gb_ptr, N, C, L, BLOCK: tl.constexpr):
    c = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    m = offs < L
    acc_w = tl.zeros((BLOCK,), dtype=tl.float32)
    acc_b = tl.zeros((BLOCK,), dtype=tl.float32)
    for n in range(N):
        base = (n * C + c) * L
        go = tl.load(go_ptr + base + offs, mask=m, other=0.0)
        x = tl.load(x_ptr + base + offs, mask=m, other=0.0)
        acc_w += go * x
        acc_b += go
    tl.store(gw_ptr + c, tl.sum(acc_w, axis=0))
    tl.store(gb_ptr + c, tl.sum(acc_b, axis=0))


class AffineFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        x = x.contiguous()
        n, c, length = x.shape
        y = torch.empty_like(x)
        affine_fwd[(n * c,)](x, weight, bias, y, c, length, BLOCK=triton.next_power_of_2(length))
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        go = grad_out.contiguous()
        n, c, length = x.shape
        block = triton.next_power_of_2(length)
        gx = torch.empty_like(x)
        gw = torch.empty_like(weight)
        gb = torch.empty_like(weight)
        affine_bwd_input[(n * c,)](go, weight, gx, c, length, BLOCK=block)
        affine_bwd_params[(c,)](go, x, gw, gb, n, c, length, BLOCK=block)
        return gx, gw, gb


class ModelNew(nn.Module):
    def __init__(self, channels):
        #include reference_channel_affine.py: Model.__init__[:]

    def forward(self, x):
        return AffineFn.apply(x, self.weight, self.bias)
