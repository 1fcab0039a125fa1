"""Broken: allocates far more memory than the sandbox allows.
expect: forward
static: none
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        hog = [torch.ones(1 << 28) for _ in range(64)]
        return dwconv(x, self.conv.weight, self.conv.bias) + len(hog)
