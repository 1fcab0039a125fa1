"""Fallback through an op namespace the old list missed: oneDNN's pointwise convolution (torch.ops.mkldnn).
expect: no_fallback
static: a private torch module
before this round: rejected by the previous verifier (commit 17a26d0, static screen on) by: no_fallback
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        c = x.shape[1]
        return torch.ops.mkldnn._convolution_pointwise(
            x, self.conv.weight, self.conv.bias, [1, 1], [1, 1], [1, 1], c, "none", [], ""
        )
