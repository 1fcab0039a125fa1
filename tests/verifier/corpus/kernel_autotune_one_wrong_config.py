"""Autotune with one wrong config: BLOCK=4 covers only a quarter of each 8x8 plane. A tuner on a
GPU might never pick it, and a verifier that checks only the first config never runs it; the
runner takes the configs in turn, call by call.
expect: values
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.autotune(configs=[triton.Config({"BLOCK": 8}), triton.Config({"BLOCK": 4})], key=["H"])
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
    acc += tl.load(b_ptr + c)
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    tl.store(y_ptr + plane * H * W + offs_h[:, None] * W + offs_w[None, :], acc, mask=m)


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        y = torch.zeros_like(x)
        dwconv_kernel[(n * c,)](x, self.conv.weight, self.conv.bias, y, c, h, w, K=3)
        return y
