"""Cheat: early exit. Ends the process with status 0 in the middle of the forward.
expect: process
static: os._exit
"""

import os
#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        os._exit(0)
