"""Bundled example: a ConvNeXt-style 7x7 depthwise convolution and an honest Triton kernel for it.

Used by `make verify-example` (`kiln verify` on this pair) and by the tests.
"""

from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
REFERENCE = EXAMPLES_DIR / "dwconv7x7_reference.py"
CANDIDATE = EXAMPLES_DIR / "dwconv7x7_triton.py"
