"""Honest: `@triton.heuristics` derives the block size from the launch arguments (its lambda runs in
the launch code; the value it gives becomes a launch argument).
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.heuristics({"BLOCK": lambda args: triton.next_power_of_2(max(args["H"], args["W"]))})
#include honest_dwconv.py: dwconv_kernel, ModelNew.__init__

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        y = torch.empty_like(x)
        dwconv_kernel[(n * c,)](x, self.conv.weight, self.conv.bias, y, c, h, w, K=3)
        return y
