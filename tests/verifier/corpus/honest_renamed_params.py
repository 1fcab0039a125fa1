"""Honest: same kernel, parameters under other names (matched to the reference's by shape).
expect: accepted
static: none
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv


class ModelNew(nn.Module):
    def __init__(self, channels, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels, 1, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.randn(channels))

    def forward(self, x):
        return dwconv(x, self.weight, self.bias)
