"""A kernel built by calling `triton.jit(fn)` on a plain function (no decorator in the text), so
the text screen and the kernel extraction never see a `@triton.jit` body.
expect: plan
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: values
"""

#include honest_dwconv.py: imports


def _zero_body(y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


zero_kernel = triton.jit(_zero_body)


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        y = torch.empty_like(x)
        zero_kernel[(1,)](y, y.numel(), BLOCK=256)
        return y
