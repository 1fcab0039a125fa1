"""Cheat: the backward computes the gradients once with its kernels and returns them again on every
later call (gradients that depend on an earlier call's tensors, not this call's). The plan is the
same from the second call on, so only the comparison on fresh inputs and grad_outputs can tell.
expect: values
static: none
"""

#include honest_affine.py: imports, affine_fwd, affine_bwd_input, affine_bwd_params

CACHED = []


#include honest_affine.py: AffineFn.forward

    @staticmethod
    def backward(ctx, grad_out):
        if CACHED:
            return tuple(torch.empty_like(g).copy_(g) for g in CACHED)
        x, weight = ctx.saved_tensors
        go = grad_out.contiguous()
        n, c, length = x.shape
        block = triton.next_power_of_2(length)
        gx = torch.empty_like(x)
        gw = torch.empty_like(weight)
        gb = torch.empty_like(weight)
        affine_bwd_input[(n * c,)](go, weight, gx, c, length, BLOCK=block)
        affine_bwd_params[(c,)](go, x, gw, gb, n, c, length, BLOCK=block)
        CACHED.extend([gx, gw, gb])
        return gx, gw, gb


#include honest_affine.py: ModelNew
