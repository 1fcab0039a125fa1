"""Honest: a lookup table computed in `__init__` and registered as a buffer (the nine tap offsets
(dh, dw) as int32), read by the kernel; the reference has no such buffer, so ModelNew's own values
are used.
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_lut_kernel(x_ptr, w_ptr, b_ptr, lut_ptr, y_ptr, C, H, W, TAPS: tl.constexpr, BLOCK: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:5]
    for t in tl.static_range(TAPS):
        ih = offs_h + tl.load(lut_ptr + 2 * t)
        iw = offs_w + tl.load(lut_ptr + 2 * t + 1)
        m = ((ih >= 0) & (ih < H))[:, None] & ((iw >= 0) & (iw < W))[None, :]
        x = tl.load(x_ptr + plane * H * W + ih[:, None] * W + iw[None, :], mask=m, other=0.0)
        acc += x * tl.load(w_ptr + c * TAPS + t)
#include honest_dwconv.py: dwconv_kernel[6:], ModelNew.__init__
        r = kernel_size // 2
        offsets = [[dh, dw] for dh in range(-r, r + 1) for dw in range(-r, r + 1)]
        self.register_buffer("taps", torch.tensor(offsets, dtype=torch.int32).flatten())

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        y = torch.empty_like(x)
        taps = self.taps.numel() // 2
        dwconv_lut_kernel[(n * c,)](x, self.conv.weight, self.conv.bias, self.taps, y, c, h, w, TAPS=taps, BLOCK=8)
        return y
