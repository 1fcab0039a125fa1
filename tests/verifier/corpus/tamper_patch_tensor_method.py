"""Tamper: replaces a torch.Tensor method the verifier relies on.
expect: accepted
static: patching a library attribute
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: integrity; round three: patching a method in the planner changes nothing the runner executes, and the kernel is honest: accepted at run time (the static screen still refuses the patch)
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        torch.Tensor.clone = lambda self, *a, **k: self
        return dwconv(x, self.conv.weight, self.conv.bias)
