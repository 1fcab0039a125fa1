"""A plan that reuses a buffer from an earlier call to smuggle a result: the first call computes into
a buffer it keeps; every later call returns that buffer without launching anything (from the
second call on the plan is the same every time, so the stability rule is satisfied).
expect: values
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: values
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__
        self.kept = None

    def forward(self, x):
        if self.kept is None:
            self.kept = dwconv(x, self.conv.weight, self.conv.bias)
        return self.kept
