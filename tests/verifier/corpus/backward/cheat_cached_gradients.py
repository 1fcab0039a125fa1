"""Cheat: the backward computes the gradients once with its kernels and returns them again on every
later call (gradients that depend on an earlier call's tensors, not this call's). The plan is the
same from the second call on, so only the comparison on fresh inputs and grad_outputs can tell.
expect: values
static: none
"""

#include honest_affine.py: imports, affine_fwd, affine_bwd_input, affine_bwd_params


class AffineFn(torch.autograd.Function):
    cache = None

    @staticmethod
    def forward(ctx, x, weight, bias):
        x = x.contiguous()
        n, c, length = x.shape
        y = torch.empty_like(x)
        affine_fwd[(n * c,)](x, weight, bias, y, c, length, BLOCK=triton.next_power_of_2(length))
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        if AffineFn.cache is not None:
            gx, gw, gb = AffineFn.cache
            return torch.empty_like(gx).copy_(gx), torch.empty_like(gw).copy_(gw), torch.empty_like(gb).copy_(gb)
        x, weight = ctx.saved_tensors
        go = grad_out.contiguous()
        n, c, length = x.shape
        block = triton.next_power_of_2(length)
        gx = torch.empty_like(x)
        gw = torch.empty_like(weight)
        gb = torch.empty_like(weight)
        affine_bwd_input[(n * c,)](go, weight, gx, c, length, BLOCK=block)
        affine_bwd_params[(c,)](go, x, gw, gb, n, c, length, BLOCK=block)
        AffineFn.cache = (gx, gw, gb)
        return gx, gw, gb


#include honest_affine.py: ModelNew
