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
        #include honest_affine.py: AffineFn.backward[:9]
        CACHED.extend([gx, gw, gb])
        return gx, gw, gb


#include honest_affine.py: ModelNew
