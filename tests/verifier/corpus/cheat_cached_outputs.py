"""Cheat: cached outputs. Computes once, then returns the stored result for every later input.
expect: values
static: none
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

        self.cache = {}

    def forward(self, x):
        key = tuple(x.shape)
        if key not in self.cache:
            self.cache[key] = dwconv(x, self.conv.weight, self.conv.bias)
        return self.cache[key]

