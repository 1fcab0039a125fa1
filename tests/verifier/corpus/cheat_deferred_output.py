"""Deferred work: returns an unwritten buffer and fills it at the next call (outputs are collected before any more candidate code runs).
expect: plan
static: none
before this round: rejected by the previous verifier (commit f02de3d, static screen off) by: values; round three: each call's plan fills the previous call's buffer, so the plan changes from call to call (`plan`)
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

        self.pending = None

    def forward(self, x):
        if self.pending is not None:
            buf, inp = self.pending
            buf.copy_(dwconv(inp, self.conv.weight, self.conv.bias))
        out = torch.empty_like(x)
        self.pending = (out, x.clone())
        return out
