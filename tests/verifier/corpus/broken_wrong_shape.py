"""Broken: drops the border (valid instead of same padding).
expect: shape
static: none
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        return dwconv(x, self.conv.weight, self.conv.bias)[:, :, 1:-1, 1:-1]
