"""Cheat (or bug): every gradient is right except the bias's, which skips the last batch element.
The verdict must name that one parameter.
expect: values
static: none
"""

#include honest_affine.py: imports, affine_fwd, affine_bwd_input


@triton.jit
def affine_bwd_params(go_ptr, x_ptr, gw_ptr, gb_ptr, N, C, L, BLOCK: tl.constexpr):
    #include honest_affine.py: affine_bwd_params[:5]
    for n in range(N):
        base = (n * C + c) * L
        go = tl.load(go_ptr + base + offs, mask=m, other=0.0)
        x = tl.load(x_ptr + base + offs, mask=m, other=0.0)
        acc_w += go * x
        if n < N - 1:
            acc_b += go
    #include honest_affine.py: affine_bwd_params[6:]


#include honest_affine.py: AffineFn, ModelNew
