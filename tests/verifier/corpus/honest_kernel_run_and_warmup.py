"""Honest: the launch code warms the kernel up with `kernel.warmup(..., grid=...)` and launches it
through `kernel.run(..., grid=..., warmup=False)` instead of `kernel[grid](...)`.
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports, dwconv_kernel, ModelNew.__init__

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        y = torch.empty_like(x)
        args = (x, self.conv.weight, self.conv.bias, y, c, h, w)
        dwconv_kernel.warmup(*args, K=3, BLOCK=8, grid=(n * c,))
        dwconv_kernel.run(*args, K=3, BLOCK=8, grid=(n * c,), warmup=False)
        return y
