"""Stateful: right for the first three calls of an instance, wrong from the fourth (the old policy called each instance twice).
expect: plan
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: values; round three: the fourth call's plan differs from the second's (`plan`), before any data runs
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

        self.calls = 0

    def forward(self, x):
        self.calls += 1
        y = dwconv(x, self.conv.weight, self.conv.bias)
        return y if self.calls < 4 else torch.zeros_like(y)
