"""Its own torch.library op whose kernel calls aten (a fallback hidden behind a custom namespace).
expect: no_fallback
static: none
before this round: rejected by the previous verifier (commit 17a26d0, static screen on) by: no_fallback
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv


lib = torch.library.Library("kilncheat", "DEF")
lib.define("conv(Tensor x, Tensor w, Tensor b) -> Tensor")


def _impl(x, w, b):
    return torch.nn.functional.conv2d(x, w, b, padding=1, groups=x.shape[1])


lib.impl("conv", _impl, "CPU")


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        return torch.ops.kilncheat.conv(x, self.conv.weight, self.conv.bias)
