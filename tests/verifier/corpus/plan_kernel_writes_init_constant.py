"""In-place writes to a constant: a plain tensor attribute made in `__init__` (not a parameter or
buffer, so it travels as a plan constant) is read by the kernel as a table and also written: every
program bumps a counter kept in it. Parameters and buffers are digested after every call
(`inputs_unmodified`); constants are not, so this cross-call state (the channel a call counter or a
cache would use) goes unnoticed: ACCEPTED.
expect: inputs_unmodified
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
round three: ACCEPTED (or raised) by the first draft of round three; closed: plan constants are digested after every call like parameters (`inputs_unmodified`)
"""

#include honest_dwconv.py: imports


@triton.jit
def dwconv_kernel(x_ptr, w_ptr, b_ptr, t_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
#include honest_dwconv.py: dwconv_kernel[:5]
    for kh in tl.static_range(K):
        ih = offs_h + kh - K // 2
        for kw in tl.static_range(K):
            #include honest_dwconv.py: dwconv_kernel[5][1][:3]
            acc += x * tl.load(w_ptr + c * K * K + kh * K + kw) * tl.load(t_ptr)
#include honest_dwconv.py: dwconv_kernel[6:]
    tl.atomic_add(t_ptr + 1, 1.0)


#include honest_dwconv.py: ModelNew.__init__
        self.table = torch.tensor([1.0, 0.0])  # [scale, calls so far]

    def forward(self, x):
        x = x.contiguous()
        n, c, h, w = x.shape
        y = torch.empty_like(x)
        dwconv_kernel[(n * c,)](x, self.conv.weight, self.conv.bias, self.table, y, c, h, w, K=3, BLOCK=8)
        return y
