"""Interpreter host data through dunders: inside the kernel body `repr(v)`, `str(v)` and
`"{}".format(v)` would read the numpy array behind a Triton value under the interpreter (the old
attack class 3); the body then parses the text into Python floats and stores the convolution it
computed on the host.
expect: kernels
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: values
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include kernel_fstring_print.py: dwconv_kernel[:4]
    text = repr(x) + str(x) + "{}".format(x)
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32) + len(text) * 0.0
    tl.store(y_ptr + plane * H * W + offs[:, None] * W + offs[None, :], acc, mask=m)


#include honest_dwconv.py: dwconv, ModelNew
