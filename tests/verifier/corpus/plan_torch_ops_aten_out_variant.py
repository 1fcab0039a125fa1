"""`torch.ops.aten` by name with an `out=` variant: `aten.convolution` is refused, so the forward
writes the result of `aten._conv_depthwise2d.out` into a buffer it allocated itself (the op that
lands in the plan is then an `.out` overload of a compute op).
expect: no_fallback
static: private torch module
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: no_fallback
"""

#include honest_dwconv.py: imports, ModelNew.__init__

    def forward(self, x):
        y = torch.empty_like(x)
        torch.ops.aten._conv_depthwise2d.out(x, self.conv.weight, [3, 3], self.conv.bias, [1, 1], [1, 1], [1, 1], out=y)
        return y
