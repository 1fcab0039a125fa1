"""Honest: two kernels chained through an intermediate buffer: the first computes the 3x3 taps
into a float32 temporary, the second adds the bias into the output.
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.jit
def taps_kernel(x_ptr, w_ptr, t_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:6]
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    tl.store(t_ptr + plane * H * W + offs_h[:, None] * W + offs_w[None, :], acc, mask=m)


@triton.jit
def bias_kernel(t_ptr, b_ptr, y_ptr, C, HW, BLOCK: tl.constexpr):
    plane = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    m = offs < HW
    t = tl.load(t_ptr + plane * HW + offs, mask=m, other=0.0)
    tl.store(y_ptr + plane * HW + offs, t + tl.load(b_ptr + plane % C), mask=m)


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        t = torch.empty((n, c, h, w), dtype=torch.float32, device=x.device)
        taps_kernel[(n * c,)](x, self.conv.weight, t, c, h, w, K=3, BLOCK=8)
        y = torch.empty_like(x)
        bias_kernel[(n * c,)](t, self.conv.bias, y, c, h * w, BLOCK=64)
        return y
