"""Honest: autotune configs written as a list comprehension over `range` (block sizes 2**k), the
most common way configs are generated. kernel_source's docstring promises "list comprehensions
over literal ranges"; its evaluator cannot resolve the name `range`.
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.autotune(configs=[triton.Config({"BLOCK": 2**k}) for k in range(3, 5)], key=["H"])
#include honest_dwconv.py: dwconv_kernel, ModelNew.__init__

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        y = torch.empty_like(x)
        dwconv_kernel[(n * c,)](x, self.conv.weight, self.conv.bias, y, c, h, w, K=3)
        return y
