"""Which aten ops a candidate's forward may dispatch without counting as a framework fallback.

Allowed: allocation and filling, views and metadata, layout/dtype copies, scalar reads. Anything
else in the framework's op namespaces (a convolution, a matmul, an FFT, a reduction...) means the
candidate asked PyTorch to do the work: a fallback, rejected unless the task allows that op.
Ops in other namespaces (a candidate's own ``torch.library`` op) are not fallbacks themselves; the
aten ops they run inside are watched like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

ALLOCATION = frozenset(
    "aten." + n
    for n in [
        "empty",
        "empty_like",
        "empty_strided",
        "new_empty",
        "new_empty_strided",
        "empty_permuted",
        "zeros",
        "zeros_like",
        "new_zeros",
        "ones",
        "ones_like",
        "new_ones",
        "full",
        "full_like",
        "new_full",
        "fill_",
        "zero_",
        "fill",
        "scalar_tensor",
        "lift_fresh",
        "lift_fresh_copy",
        "lift",
        "resize_",
        "resize_as_",
        "set_",
        "detach",
        "detach_",
        "alias",
    ]
)
RANDOM_FILLS = frozenset(
    "aten." + n
    for n in [
        "uniform_",
        "normal_",
        "random_",
        "bernoulli_",
        "exponential_",
        "geometric_",
        "cauchy_",
        "log_normal_",
        "rand",
        "randn",
        "randint",
        "rand_like",
        "randn_like",
        "randint_like",
    ]
)
"""Random fills: parameter initialisation (``nn.init``) and random inputs, never an op's result."""
SCALAR_READS = frozenset({"aten._local_scalar_dense", "aten.item"})
"""Reading tensor elements into Python numbers: host computation (an honest forward does none)."""
LAYOUT = frozenset(
    "aten." + n
    for n in [
        "clone",
        "contiguous",
        "copy_",
        "_to_copy",
        "to",
        "_copy_from",
        "_copy_from_and_resize",
        "type_as",
        "resolve_conj",
        "resolve_neg",
        "view",
        "_unsafe_view",
        "reshape",
        "_reshape_alias",
        "as_strided",
        "as_strided_",
        "permute",
        "transpose",
        "transpose_",
        "t",
        "t_",
        "expand",
        "expand_as",
        "squeeze",
        "squeeze_",
        "unsqueeze",
        "unsqueeze_",
        "slice",
        "select",
        "narrow",
        "split",
        "split_with_sizes",
        "chunk",
        "unbind",
        "flatten",
        "unflatten",
        "view_as",
        "movedim",
        "moveaxis",
        "swapaxes",
        "swapdims",
        "diagonal",
        "unfold",
        "view_as_real",
        "view_as_complex",
        "real",
        "imag",
        "_conj",
        "_neg_view",
    ]
)
METADATA = frozenset(
    "aten." + n
    for n in [
        "size",
        "stride",
        "sym_size",
        "sym_stride",
        "sym_numel",
        "sym_storage_offset",
        "dim",
        "numel",
        "is_contiguous",
        "storage_offset",
        "is_same_size",
        "is_floating_point",
        "is_complex",
        "_has_compatible_shallow_copy_type",
        "record_stream",
    ]
)
DEFAULT_ALLOWED: frozenset[str] = ALLOCATION | LAYOUT | METADATA | RANDOM_FILLS

KNOWN_FRAMEWORK_NAMESPACES = frozenset(
    {
        "aten",
        "prims",
        "quantized",
        "_quantized",
        "quantization",
        "mkldnn",
        "mkldnn_prepacked",
        "mkl",
        "onednn",
        "xnnpack",
        "fbgemm",
        "cudnn",
        "sparse",
        "_native",
        "inductor",
        "inductor_prims",
        "rngprims",
        "debugprims",
        "static_runtime",
        "c10d",
        "_c10d_functional",
        "_c10d_functional_autograd",
        "symm_mem",
        "_dtensor",
        "export",
        "torchvision",
        "torchaudio",
    }
)
"""Namespaces of ops torch (or its companion libraries) computes; more are found at run time."""


@functools.cache
def framework_namespaces() -> frozenset[str]:
    """Every namespace with ops registered by torch in this process, plus the known ones.

    Called in the trusted parent before any candidate ran: a namespace a candidate registers
    later (its own ``torch.library`` op) is not among them; what such an op runs inside is."""
    try:
        import torch

        found = {name.partition("::")[0] for name in torch._C._dispatch_get_all_op_names()}
    except Exception:  # pragma: no cover - torch without the private registry API
        found = set()
    return KNOWN_FRAMEWORK_NAMESPACES | frozenset(found - {"profiler"})


def is_framework_op(packet: str) -> bool:
    return packet.split(".", 1)[0] in framework_namespaces()


def fallback_ops(ops: Iterable[str], extra_allowed: Iterable[str] = ()) -> list[str]:
    """The framework compute ops among ``ops`` (sorted, unique): what makes a forward a fallback."""
    allowed = DEFAULT_ALLOWED | frozenset(extra_allowed)
    return sorted({op for op in ops if is_framework_op(op) and op not in allowed and op not in SCALAR_READS})


def scalar_reads(ops: Iterable[str]) -> int:
    """How many of ``ops`` (a list with repeats) read a tensor element into a Python number."""
    return sum(1 for op in ops if op in SCALAR_READS)
