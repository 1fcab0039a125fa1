"""Broken: partial output. The kernel writes only the first half of the channels.
expect: values
static: none
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        half = x.shape[1] // 2
        y = torch.empty_like(x).fill_(0.0)
        y[:, :half] = dwconv(x[:, :half], self.conv.weight[:half], self.conv.bias[:half])
        return y
