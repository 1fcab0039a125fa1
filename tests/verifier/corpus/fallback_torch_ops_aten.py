"""Fallback through torch.ops.aten directly (the dispatcher's convolution, no functional wrapper).
expect: no_fallback
static: none
before this round: rejected by the previous verifier (commit 17a26d0, static screen on) by: no_fallback
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        c = x.shape[1]
        return torch.ops.aten.convolution.default(x, self.conv.weight, self.conv.bias, [1, 1], [1, 1], [1, 1], False, [0, 0], c)
