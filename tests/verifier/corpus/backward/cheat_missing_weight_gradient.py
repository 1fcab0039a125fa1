"""Cheat: the backward returns None for the weight (it skips the weight gradient's reduction): the
verdict must name the parameter that got no gradient.
expect: structure
static: none
"""

#include honest_affine.py: imports, affine_fwd, affine_bwd_input, affine_bwd_params, AffineFn.forward

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
        return gx, None, gb


#include honest_affine.py: ModelNew
