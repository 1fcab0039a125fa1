"""In-place writes to parameters from a kernel: after computing, the kernel scales the bias by 0.5
(a running state hidden in the parameter; a cheat would keep a cache there).
expect: inputs_unmodified
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: values
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:6]
    b = tl.load(b_ptr + c)
    acc += b
#include honest_dwconv.py: dwconv_kernel[7:]
    tl.debug_barrier()
    tl.store(b_ptr + c, b * 0.5)


#include honest_dwconv.py: dwconv, ModelNew
