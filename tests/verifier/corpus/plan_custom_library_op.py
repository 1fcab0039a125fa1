"""A custom `torch.library` op with a fake implementation, so it records cleanly on tensors without
data: the forward calls `kiln::dwconv`, whose real implementation is `F.conv2d`.
expect: no_fallback
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: no_fallback
"""

import torch.nn.functional as F

#include honest_dwconv.py: imports


@torch.library.custom_op("kiln_corpus::dwconv", mutates_args=())
def kiln_dwconv(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x, w, b, padding=1, groups=x.shape[1])


@kiln_dwconv.register_fake
def _(x, w, b):
    return torch.empty_like(x)


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        return kiln_dwconv(x, self.conv.weight, self.conv.bias)
