"""Autotune with eleven configs where only the last is wrong: BLOCK=4 covers a quarter of each plane
(and is the cheapest, so a GPU tuner would pick it). The runner takes the configs in turn, one per
correctness call; an instance gets 8 to 10 calls on a CPU (5 in the tests), so config 11 is never
run or checked there: ACCEPTED, with a note saying which configs ran.
expect: values
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
round three: ACCEPTED (or raised) by the first draft of round three; closed: the runner now runs every config: calls take them in turn and the last call runs any left (`values`)
"""

#include honest_dwconv.py: imports


@triton.autotune(
    configs=[
        triton.Config({"BLOCK": 8}, num_warps=1),
        triton.Config({"BLOCK": 8}, num_warps=2),
        triton.Config({"BLOCK": 8}, num_warps=4),
        triton.Config({"BLOCK": 8}, num_warps=8),
        triton.Config({"BLOCK": 8}, num_warps=16),
        triton.Config({"BLOCK": 8}, num_warps=1, num_stages=2),
        triton.Config({"BLOCK": 8}, num_warps=2, num_stages=2),
        triton.Config({"BLOCK": 8}, num_warps=4, num_stages=2),
        triton.Config({"BLOCK": 8}, num_warps=8, num_stages=2),
        triton.Config({"BLOCK": 8}, num_warps=16, num_stages=2),
        triton.Config({"BLOCK": 4}, num_warps=1),
    ],
    key=["H"],
)
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
