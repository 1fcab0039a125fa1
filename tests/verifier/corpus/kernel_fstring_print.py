"""Host formatting from a kernel body: `print(f"{x}")` (an f-string formats the interpreter's host
array; `print` itself is allowed and prints nothing in the runner).
expect: kernels
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: values
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
    plane = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    m = (offs[:, None] < H) & (offs[None, :] < W)
    x = tl.load(x_ptr + plane * H * W + offs[:, None] * W + offs[None, :], mask=m, other=0.0)
    print(f"{x}")
    tl.store(y_ptr + plane * H * W + offs[:, None] * W + offs[None, :], x, mask=m)


#include honest_dwconv.py: dwconv, ModelNew
