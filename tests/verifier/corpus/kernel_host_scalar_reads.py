"""A host scalar read in a kernel body that passes the text check: `int(v)` (a builtin the code
generator knows) on a loaded value: under the interpreter it would turn data into a Python
number. The sm_90 build refuses `int()` of a tensor before anything runs
(the runner's own `int`/`float`/`bool` would refuse a Triton tensor too).
expect: gpu_compile
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:4]
    first = int(tl.load(x_ptr + plane * H * W))
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32) + first * 0
#include honest_dwconv.py: dwconv_kernel[5:], dwconv, ModelNew
