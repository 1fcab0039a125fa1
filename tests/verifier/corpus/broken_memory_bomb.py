"""Broken: allocates far more host memory than the sandbox allows, in the launch code itself.
expect: forward
static: bytearray
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: forward (the same bomb with torch.ones, which on tensors without data costs nothing now)
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        hog = [bytearray(1 << 30) for _ in range(64)]
        return dwconv(x, self.conv.weight, self.conv.bias)[: len(hog) * 0 + x.shape[0]]
