"""Interpreter host arrays through a plain helper called from a jit body (the old ban covered jit bodies only).
expect: static_screen
static: .handle
before this round: rejected by the previous verifier (commit 17a26d0, static screen on) by: static_screen
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv


import numpy


def _host_conv(xt):
    return xt.handle.data


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        return dwconv(x, self.conv.weight, self.conv.bias)
