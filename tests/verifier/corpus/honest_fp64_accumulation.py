"""Honest: the kernel accumulates in float64 (inputs and weights widened in the kernel) and rounds
to float32 once, at the store.
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:4]
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float64)
    for kh in tl.static_range(K):
        ih = offs_h + kh - K // 2
        for kw in tl.static_range(K):
            #include honest_dwconv.py: dwconv_kernel[5][1][:2]
            x = tl.load(x_ptr + plane * H * W + ih[:, None] * W + iw[None, :], mask=m, other=0.0).to(tl.float64)
            acc += x * tl.load(w_ptr + c * K * K + kh * K + kw).to(tl.float64)
    acc += tl.load(b_ptr + c).to(tl.float64)
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    tl.store(y_ptr + plane * H * W + offs_h[:, None] * W + offs_w[None, :], acc.to(tl.float32), mask=m)


#include honest_dwconv.py: dwconv, ModelNew
