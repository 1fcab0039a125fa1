"""Memory: the kernel reads far outside the tensors it was given (an address computed from its pointer
and a large offset: under the interpreter, another allocation of the runner's; on a GPU, a fault or
another buffer). The runner checks every interpreted access against the launch's tensors.
expect: memory
static: none
before this round: a read the interpreter does not check (the previous verifier ran it in the candidate's own process)
"""

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def peek_kernel(x_ptr, y_ptr, n, SPAN: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    mask = offs < n
    far = tl.load(x_ptr + offs + SPAN, mask=mask, other=0.0)
    tl.store(y_ptr + offs, far * 0.0, mask=mask)


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        y = torch.empty_like(x)
        peek_kernel[(1,)](x, y, x.numel(), SPAN=1 << 22, BLOCK=256)
        return y
