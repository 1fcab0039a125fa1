"""Kernels the text never shows at top level: one defined inside a factory function (a closure over a
value computed at run time) and launched from the forward.
expect: plan
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: forward
"""

#include honest_dwconv.py: imports


def make_kernel(scale):
    @triton.jit
    def scaled_zero_kernel(y_ptr, n, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        tl.store(y_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32) * scale, mask=offs < n)

    return scaled_zero_kernel


#include honest_dwconv.py: ModelNew.__init__
        self.kernel = make_kernel(0.0)

    def forward(self, x):
        y = torch.empty_like(x)
        self.kernel[(1,)](y, y.numel(), BLOCK=256)
        return y
