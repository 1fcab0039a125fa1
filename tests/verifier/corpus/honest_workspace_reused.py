"""Honest: a zero-bordered padded workspace is allocated (with `torch.zeros`) at the first call and
reused by every later call: the first kernel writes the interior, the second convolves the
workspace without masks. The border is written once, at allocation, and relied on afterwards.
expect: accepted
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

#include honest_dwconv.py: imports


@triton.jit
def pad_copy_kernel(x_ptr, p_ptr, H, W, BLOCK: tl.constexpr):
    plane = tl.program_id(0)
    offs_h = tl.arange(0, BLOCK)
    offs_w = tl.arange(0, BLOCK)
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    x = tl.load(x_ptr + plane * H * W + offs_h[:, None] * W + offs_w[None, :], mask=m, other=0.0)
    PW = W + 2
    tl.store(p_ptr + plane * (H + 2) * PW + (offs_h[:, None] + 1) * PW + (offs_w[None, :] + 1), x, mask=m)


@triton.jit
def conv_padded_kernel(p_ptr, w_ptr, b_ptr, y_ptr, C, H, W, BLOCK: tl.constexpr):
    plane = tl.program_id(0)
    c = plane % C
    PW = W + 2
    offs_h = tl.arange(0, BLOCK)
    offs_w = tl.arange(0, BLOCK)
    m = (offs_h[:, None] < H) & (offs_w[None, :] < W)
    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)
    for kh in tl.static_range(3):
        for kw in tl.static_range(3):
            ptrs = p_ptr + plane * (H + 2) * PW + (offs_h[:, None] + kh) * PW + (offs_w[None, :] + kw)
            acc += tl.load(ptrs, mask=m, other=0.0) * tl.load(w_ptr + c * 9 + kh * 3 + kw)
    acc += tl.load(b_ptr + c)
    tl.store(y_ptr + plane * H * W + offs_h[:, None] * W + offs_w[None, :], acc, mask=m)


#include honest_dwconv.py: ModelNew.__init__
        self.workspace = None

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        if self.workspace is None or self.workspace.shape != (n, c, h + 2, w + 2):
            self.workspace = torch.zeros((n, c, h + 2, w + 2), dtype=x.dtype, device=x.device)
        pad_copy_kernel[(n * c,)](x, self.workspace, h, w, BLOCK=8)
        y = torch.empty_like(x)
        conv_padded_kernel[(n * c,)](self.workspace, self.conv.weight, self.conv.bias, y, c, h, w, BLOCK=8)
        return y
