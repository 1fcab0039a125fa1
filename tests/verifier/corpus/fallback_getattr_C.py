"""Recorders switched off through a name the screen did not see (getattr(torch, "_C")), then a torch fallback.
expect: no_fallback
static: names `_C`
before this round: rejected by the previous verifier (commit 17a26d0, static screen on) by: static_screen
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        c_api = getattr(torch, "_C")
        with c_api._DisableTorchDispatch():
            return torch.nn.functional.conv2d(x, self.conv.weight, self.conv.bias, padding=1, groups=x.shape[1])
