"""Honest: the idioms of a real training kernel: ``@once_differentiable``, ``ctx.needs_input_grad`` (a
gradient that is not needed is not computed), saved tensors, views of the parameters passed in, and
``ctx.mark_non_differentiable`` for nothing. Every gradient the verifier asks for is needed.
expect: accepted
static: none
"""

#include honest_affine.py: imports, affine_fwd, affine_bwd_input, affine_bwd_params

from torch.autograd.function import once_differentiable


#include honest_affine.py: AffineFn.forward

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        #include honest_affine.py: AffineFn.backward[:4]
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = torch.empty_like(x)
            affine_bwd_input[(n * c,)](go, weight, gx, c, length, BLOCK=block)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            gw = torch.empty_like(weight)
            gb = torch.empty_like(weight)
            affine_bwd_params[(c,)](go, x, gw, gb, n, c, length, BLOCK=block)
        return gx, gw, gb


#include honest_affine.py: ModelNew.__init__

    def forward(self, x):
        return AffineFn.apply(x, self.weight.view(-1), self.bias)
