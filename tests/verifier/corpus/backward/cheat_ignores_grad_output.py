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
        #include honest_affine.py: AffineFn.backward[2:]


#include honest_affine.py: ModelNew
