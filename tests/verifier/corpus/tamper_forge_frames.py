"""Tamper: writes a forged "done" frame to every inherited file descriptor, then exits.
expect: process
static: os.write
"""

import os
#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew.__init__

    def forward(self, x):
        fake = b"KLN1" + (0).to_bytes(8, "big") + (16).to_bytes(4, "big") + (0).to_bytes(8, "big")
        fake += b'{"kind":"done"}' + b" " + b"\x00" * 32
        for fd in range(3, 64):
            try:
                os.write(fd, fake)
            except OSError:
                pass
        os._exit(0)
