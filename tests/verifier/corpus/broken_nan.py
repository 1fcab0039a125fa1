"""Broken: one NaN in an otherwise correct output.
expect: values
static: none
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        y = dwconv(x, self.conv.weight, self.conv.bias)
        y.view(-1)[5] = float("nan")
        return y
