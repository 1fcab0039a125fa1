"""A kernel parameter whose default is an object made by running code (`torch.zeros(1)`): a default
evaluated by the candidate's Python, which the runner could not reproduce from the text.
expect: plan
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: no_fallback
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr, SCALE=torch.ones(1).item()):
#include honest_dwconv.py: dwconv_kernel[:6]
    acc = acc * SCALE + tl.load(b_ptr + c)
#include honest_dwconv.py: dwconv_kernel[7:], dwconv, ModelNew
