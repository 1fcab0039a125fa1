"""Routing: `Candidate.resolved_language` sends any source whose text matches `__global__`,
`load_inline` or `cpp_extension` (here: a comment) down the CUDA path, the candidate process that
holds the data, instead of plan/run. There the old class-2 attack works: numpy without the word
numpy (`F.np`), `np.from_dlpack` to read the input and parameters, and a dlpack view to write the
result into `torch.empty_like(x)` (no `from_numpy`: the static screen finds nothing either).
ACCEPTED at commit a0cca5f, static screen on or off; in the working tree of this review the
CUDA path's in-progress lock-before-import change rejects every such candidate with `process`
("instances are built before the first call"), honest ones included.
expect: values
static: none
before this round: ACCEPTED by the previous verifier (commit f02de3d, static screen off)
round three: ACCEPTED (or raised) by the first draft of round three; closed: a candidate is a CUDA candidate only if its code (not a comment) uses torch.utils.cpp_extension; this one is planned on data-free tensors, its numpy sees nothing and its constant output fails `values`; a CUDA candidate that builds nothing is refused on a CPU (`compile`)
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
import triton
import triton.language as tl

# (a CUDA-free file: this comment only mentions __global__)


#include honest_dwconv.py: ModelNew.__init__

    def forward(self, x):
        np = F.np
#include host_numpy_aliases_on_fake.py: ModelNew.forward[2:12]
        np.from_dlpack(y)[...] = out  # written through a dlpack view: no from_numpy
        return y
