"""Cheat: right only at first. Correct on the first call, garbage afterwards.
expect: values
static: none
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 1:
            return dwconv(x, self.conv.weight, self.conv.bias)
        return torch.empty_like(x).fill_(0.5)
