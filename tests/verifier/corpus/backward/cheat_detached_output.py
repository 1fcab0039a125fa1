"""Cheat: the forward launches the right kernel but outside any autograd.Function, so its output is
detached: a training step through it would get no gradient at all (accepted in forward mode).
expect: backward
static: none
"""

#include honest_affine.py: imports, affine_fwd, ModelNew.__init__

    def forward(self, x):
        x = x.contiguous()
        n, c, length = x.shape
        y = torch.empty_like(x)
        affine_fwd[(n * c,)](x, self.weight, self.bias, y, c, length, BLOCK=triton.next_power_of_2(length))
        return y
