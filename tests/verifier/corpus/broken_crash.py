"""Broken: a segmentation fault in the forward.
expect: process
static: faulthandler
"""

import faulthandler
#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        faulthandler._sigsegv()
