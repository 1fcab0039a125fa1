"""The launched kernel is not the text's kernel of that name. The file's top-level `dwconv_kernel`
is honest; `ModelNew.__init__` rebinds the module global `dwconv_kernel` (a `global` statement in a
method: the text's reader only looks at top-level statements) to a jit function of the same name
that stores zeros. The planner records launches by name, so the plan says `dwconv_kernel` and the
runner runs the honest text: ACCEPTED, while running the file as written returns zeros.
expect: plan
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: values
round three: ACCEPTED (or raised) by the first draft of round three; closed: a name declared `global` anywhere is not a kernel name the runner trusts, and a launch whose code does not start at the text kernel's line is refused (`plan`)
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv


class ModelNew(nn.Module):
    def __init__(self, channels, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, groups=channels)
        global dwconv_kernel

        @triton.jit
        def dwconv_kernel(x_ptr, w_ptr, b_ptr, y_ptr, C, H, W, K: tl.constexpr, BLOCK: tl.constexpr):
            #include kernel_defined_twice.py: dwconv_kernel[:4]
            zeros = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)
            tl.store(y_ptr + plane * H * W + offs_h[:, None] * W + offs_w[None, :], zeros, mask=m)

    def forward(self, x):
        return dwconv(x, self.conv.weight, self.conv.bias)
