"""Honest: the input is copied into a channels-last buffer made with `torch.empty_strided`, the
kernel walks the permuted NHWC view through its strides, and writes an output that is itself
channels-last (NCHW shape, NHWC strides).
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_nhwc_kernel(x_ptr, w_ptr, b_ptr, y_ptr, sn, sh, sw, sc, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
    plane = tl.program_id(0)
    b = plane // C
    c = plane % C
    offs_h = tl.arange(0, BLOCK)
    offs_w = tl.arange(0, BLOCK)
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)
    base = b * sn + c * sc
    for kh in tl.static_range(K):
        ih = offs_h + kh - K // 2
        for kw in tl.static_range(K):
            iw = offs_w + kw - K // 2
            m = ((ih >= 0) & (ih < H))[:, None] & ((iw >= 0) & (iw < W))[None, :]
            x = tl.load(x_ptr + base + ih[:, None] * sh + iw[None, :] * sw, mask=m, other=0.0)
            acc += x * tl.load(w_ptr + c * K * K + kh * K + kw)
    acc += tl.load(b_ptr + c)
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    tl.store(y_ptr + base + offs_h[:, None] * sh + offs_w[None, :] * sw, acc, mask=m)


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        n, c, h, w = x.shape
        strides = (h * w * c, 1, w * c, c)
        xc = torch.empty_strided((n, c, h, w), strides, dtype=x.dtype, device=x.device)
        xc.copy_(x)
        nhwc = xc.permute(0, 2, 3, 1)  # contiguous NHWC view of the same memory
        y = torch.empty_strided((n, c, h, w), strides, dtype=x.dtype, device=x.device)
        sn, sh, sw, sc = nhwc.stride()
        dwconv_nhwc_kernel[(n * c,)](nhwc, self.conv.weight, self.conv.bias, y, sn, sh, sw, sc, c, h, w, K=3, BLOCK=8)
        return y
