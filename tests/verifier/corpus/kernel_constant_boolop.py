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
    plane = tl.program_id(0)
    c = plane % C
    offs_h = tl.arange(0, BLOCK)
    offs_w = tl.arange(0, BLOCK)
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)
    for kh in tl.static_range(K):
        ih = offs_h + kh - K // 2
        for kw in tl.static_range(K):
            iw = offs_w + kw - K // 2
            m = ((ih >= 0) & (ih < H))[:, None] & ((iw >= 0) & (iw < W))[None, :]
            x = tl.load(x_ptr + plane * H * W + ih[:, None] * W + iw[None, :], mask=m, other=0.0)
            acc += x * tl.load(w_ptr + c * K * K + kh * K + kw)
    acc = (acc + tl.load(b_ptr + c)) * SCALE
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    tl.store(y_ptr + plane * H * W + offs_h[:, None] * W + offs_w[None, :], acc, mask=m)


#include honest_dwconv.py: dwconv, ModelNew
