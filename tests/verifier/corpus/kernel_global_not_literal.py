"""A kernel reads a module-level "constant" that is not a literal: computed at import by a function
(here `math.sqrt(0.0)`, where a cheat would compute a table from anything), so the text cannot say
what the runner's value would be.
expect: kernels
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

import math

#include honest_dwconv.py: imports

SCALE = math.sqrt(0.0) + 1.0


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:6]
    acc = acc * SCALE + tl.load(b_ptr + c)
#include honest_dwconv.py: dwconv_kernel[7:], dwconv, ModelNew
