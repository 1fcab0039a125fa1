"""Broken: defines the kernel but no ModelNew.
expect: load
static: none
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv
