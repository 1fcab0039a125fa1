"""A `@triton.heuristics` function that reads the input's data (`.abs().max().item()`) to choose a
constexpr: host reads in launch code, where a cheat would pick a branch from the values.
expect: no_fallback
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: no_fallback
"""

#include honest_dwconv.py: imports


@triton.heuristics({"SCALE": lambda args: 1.0 if args["x_ptr"].abs().max().item() < 1e9 else 0.0})
@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr, SCALE: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:6]
    acc = acc * SCALE + tl.load(b_ptr + c)
#include honest_dwconv.py: dwconv_kernel[7:], dwconv, ModelNew
