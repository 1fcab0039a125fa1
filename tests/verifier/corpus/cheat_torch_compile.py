"""torch.compile of the reference's op in __init__ (the compiled baseline, not a kernel).
expect: sandbox
static: torch.compile
before this round: rejected by the previous verifier (commit 17a26d0, static screen on) by: integrity
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

        self.fn = torch.compile(lambda a, w, b: torch.nn.functional.conv2d(a, w, b, padding=1, groups=a.shape[1]))

    def forward(self, x):
        return self.fn(x, self.conv.weight, self.conv.bias)
