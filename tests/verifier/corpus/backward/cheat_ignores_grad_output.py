"""Cheat: the backward runs the right kernels on a grad_output of ones instead of the one it is given
(the gradient of ``output.sum()``, which a test that only ever calls ``.sum().backward()`` accepts).
expect: values
static: none
"""

#include honest_affine.py: imports, affine_fwd, affine_bwd_input, affine_bwd_params, AffineFn.forward

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        go = torch.ones_like(x)
        n, c, length = x.shape
        block = triton.next_power_of_2(length)
        gx = torch.empty_like(x)
        gw = torch.empty_like(weight)
        gb = torch.empty_like(weight)
        affine_bwd_input[(n * c,)](go, weight, gx, c, length, BLOCK=block)
        affine_bwd_params[(c,)](go, x, gw, gb, n, c, length, BLOCK=block)
        return gx, gw, gb


#include honest_affine.py: ModelNew
