"""Cheat (or bug): every gradient is right except the bias's, which skips the last batch element.
The verdict must name that one parameter.
expect: values
static: none
"""

#include honest_affine.py: imports, affine_fwd, affine_bwd_input


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
        if n < N - 1:
            acc_b += go
    tl.store(gw_ptr + c, tl.sum(acc_w, axis=0))
    tl.store(gb_ptr + c, tl.sum(acc_b, axis=0))


#include honest_affine.py: AffineFn, ModelNew
