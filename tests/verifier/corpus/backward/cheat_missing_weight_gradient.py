"""Cheat: the backward returns None for the weight (it skips the weight gradient's reduction): the
verdict must name the parameter that got no gradient.
expect: structure
static: none
"""

#include honest_affine.py: imports, affine_fwd, affine_bwd_input, affine_bwd_params, AffineFn.forward

    @staticmethod
    def backward(ctx, grad_out):
        #include honest_affine.py: AffineFn.backward[:9]
        return gx, None, gb


#include honest_affine.py: ModelNew
