"""Cheat: the forward launches a Triton kernel, the backward computes the gradients with torch ops
(the framework's compute, not the candidate's kernels).
expect: no_fallback
static: none
"""

#include honest_affine.py: imports, affine_fwd, AffineFn.forward

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        gx = grad_out * weight[None, :, None]
        gw = (grad_out * x).sum(dim=(0, 2))
        gb = grad_out.sum(dim=(0, 2))
        return gx, gw, gb


#include honest_affine.py: ModelNew
