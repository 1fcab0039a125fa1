"""Honest: the output buffer is allocated at the first call and the same buffer is written and
returned by every call (a common "preallocated output" pattern).
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports, dwconv_kernel, ModelNew.__init__
        self.out = None

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        if self.out is None or self.out.shape != x.shape:
            self.out = torch.empty_like(x)
        dwconv_kernel[(n * c,)](x, self.conv.weight, self.conv.bias, self.out, c, h, w, K=3, BLOCK=8)
        return self.out
