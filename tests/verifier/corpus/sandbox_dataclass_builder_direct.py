"""Sandbox: dataclasses' private method builder called directly with a body of the candidate's own,
so that the exec happens in a standard-library frame.
expect: sandbox
static: dataclasses._create_fn
"""

#include honest_dwconv.py: imports, dwconv_kernel, dwconv, ModelNew
import dataclasses

built = dataclasses._create_fn("probe", (), ["return __import__('gc').get_objects()"])
