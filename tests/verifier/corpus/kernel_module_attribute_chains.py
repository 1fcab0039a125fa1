"""Attribute chains through Triton's modules from a kernel body: `tl.core.tensor`, `triton.runtime.
interpreter.np` (numpy under another name) and `tl.standard` reach Python outside the language; the
body would hand the loaded block to numpy.
expect: kernels
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: forward
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include kernel_fstring_print.py: dwconv_kernel[:4]
    kind = tl.core.tensor
    np = triton.runtime.interpreter.np
    helper = tl.standard.sum
    acc = x * 0.0 + np.float32(0.0) + helper(x, 0)[None, :] * 0.0
    tl.store(y_ptr + plane * H * W + offs[:, None] * W + offs[None, :], acc, mask=m)


#include honest_dwconv.py: dwconv, ModelNew
