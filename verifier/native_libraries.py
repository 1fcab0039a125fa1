"""Vendor compute libraries a CUDA candidate must not reach: they are framework compute too.

A ``load_inline`` candidate is native code: it can call cuBLAS, cuDNN, cuSPARSE, cuFFT or a
CUTLASS-built library kernel directly, past the compute lock (which guards the dispatcher). Two
checks refuse that, with the same list:

- in the CPU compile check, sources that include those libraries' headers or link them;
- on a GPU, kernels those libraries launch, by name, in the profiler's CUDA kernel activity of
  every checked call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LIBRARIES = ("cublas", "cublasLt", "cudnn", "cusparse", "cusparseLt", "cufft", "cutlass", "cusolver", "curand", "nccl")

INCLUDE = re.compile(
    r"#\s*include\s*[<\"](?P<header>(?:" + "|".join(LIBRARIES) + r")[A-Za-z0-9_./]*)[>\"]"
    r"|#\s*include\s*[<\"](?P<ns>(?:cute|cutlass|cub/device/dispatch/dispatch_(?:gemm)?))/",
    re.IGNORECASE,
)
LINK = re.compile(r"(?:^|\s)-l\s*(?P<lib>" + "|".join(LIBRARIES) + r")\b", re.IGNORECASE)

KERNEL_NAME = re.compile(
    r"cublas|cutlass|cudnn|cusparse|cufft|cusolver|xmma|"
    r"^(?:void\s+)?(?:sm\d{2,3}_|ampere_|volta_|turing_|hopper_|maxwell_)|"
    r"regular_fft|vector_fft|gemv2T_kernel|gemmSN_|gemmk1_kernel|splitKreduce_kernel",
    re.IGNORECASE,
)


def library_uses(sources: Iterable[str], ldflags: Iterable[str] = ()) -> list[str]:
    """Headers included and libraries linked from ``LIBRARIES`` (empty: none)."""
    found: list[str] = []
    for text in sources:
        for m in INCLUDE.finditer(text or ""):
            found.append(f"#include <{m.group('header') or m.group('ns') + '/...'}>")
    for m in LINK.finditer(" ".join(ldflags)):
        found.append(f"-l{m.group('lib')}")
    return sorted(set(found))


def library_kernels(names: Iterable[str]) -> list[str]:
    """Kernel names (from the profiler) that belong to a vendor library."""
    return sorted({n for n in names if KERNEL_NAME.search(n)})
