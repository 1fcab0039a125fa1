"""The runner's constants are not the file's: kernel_source evaluates module-level constants with its
own evaluator, where `a and b` is `all([a, b])` (a bool) while Python gives `b`. Here
`SCALE = tl.constexpr(1.0 and 0.5)` is 0.5 in the file but True (1) in the runner's kernel
namespace, so the runner computes the exact convolution (ACCEPTED) while the file, run as written,
returns half of it.
expect: values
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: values
round three: ACCEPTED (or raised) by the first draft of round three; closed: the literal evaluator now follows Python (`and` gives its deciding operand), so the runner's constant is the file's (`values`)
"""

#include honest_dwconv.py: imports

SCALE = tl.constexpr(1.0 and 0.5)


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:6]
    acc = (acc + tl.load(b_ptr + c)) * SCALE
#include honest_dwconv.py: dwconv_kernel[7:], dwconv, ModelNew
