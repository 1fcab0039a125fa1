"""Interpreter vs compiled: a float-to-int cast out of range. NumPy (the CPU interpreter) gives
INT_MIN for float32(3e9).to(int32); PTX's cvt.rzi saturates to INT_MAX on the GPU. The flag is made
from a loaded value (no constant folding), so the kernel computes the convolution under the
interpreter and stores zeros when compiled. Pure Triton language: the text check, the plan and the
sm_90 build all pass; on a CPU the interpreted run is the only run, so the verdict is ACCEPTED.
(GPU behaviour inferred from PTX semantics; not run here: no GPU was lent to this task.)
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
limit: a CPU verdict rests on Triton's interpreter computing what the compiled kernel computes; where their semantics differ (an out-of-range float-to-int cast: NumPy gives INT_MIN, PTX saturates) only a GPU run can tell. The runtime check accepts it on a CPU; the GPU campaign runs it compiled.
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:4]
    bias = tl.load(b_ptr + c)
    interpreted = (bias * 0.0 + 3.0e9).to(tl.int32) < 0
#include honest_dwconv.py: dwconv_kernel[4:6]
    acc += bias
    acc = tl.where(interpreted, acc, 0.0)
#include honest_dwconv.py: dwconv_kernel[7:], dwconv, ModelNew
