"""Broken: hangs forever in the forward.
expect: process
static: none
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        while True:
            pass
