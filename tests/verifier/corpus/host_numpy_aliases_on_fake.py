"""Numpy without the word numpy in the launch code: `F.np`, `torch.storage.np` and
`triton.runtime.interpreter.np`, with `np.from_dlpack(t)` exporting a tensor's data to convolve on
the host. In the planner the input is a FakeTensor with no data to export.
expect: values
static: .storage
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
"""

import torch.nn.functional as F

#include honest_dwconv.py: imports, ModelNew.__init__

    def forward(self, x):
        np = F.np
        assert np is torch.storage.np is triton.runtime.interpreter.np
        a = np.from_dlpack(x.detach())
        w = np.from_dlpack(self.conv.weight.detach())
        b = np.from_dlpack(self.conv.bias.detach())
        n, c, h, wd = a.shape
        p = np.zeros((n, c, h + 2, wd + 2), dtype=a.dtype)
        p[:, :, 1:-1, 1:-1] = a
        out = np.zeros_like(a)
        for kh in range(3):
            for kw in range(3):
                out += p[:, :, kh : kh + h, kw : kw + wd] * w[None, :, 0, kh, kw, None, None]
        out += b[None, :, None, None]
        y = torch.empty_like(x)
        np.from_dlpack(y)[...] = out
        return y
