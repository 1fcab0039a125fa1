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
    acc = acc * SCALE + tl.load(b_ptr + c)
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    tl.store(y_ptr + plane * H * W + offs_h[:, None] * W + offs_w[None, :], acc, mask=m)


#include honest_dwconv.py: dwconv, ModelNew
