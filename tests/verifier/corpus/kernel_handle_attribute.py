"""Interpreter host arrays through `.handle.data` in the kernel body, and a plain (not jit) helper
the body calls that reads them too.
expect: kernels
static: .handle
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: forward
"""

#include honest_dwconv.py: imports


def host_sum(v):
    return v.handle.data.sum()


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include kernel_fstring_print.py: dwconv_kernel[:4]
    data = x.handle.data
    acc = x * 0.0 + host_sum(x) * 0.0
    tl.store(y_ptr + plane * H * W + offs[:, None] * W + offs[None, :], acc, mask=m)


#include honest_dwconv.py: dwconv, ModelNew
