"""Which framework ops a launch plan may hold: what honest launch code does around its kernels.

Allocation and fills (random fills included), views, layout and dtype copies, padding and
concatenation (``F.pad``, ``torch.cat``/``stack``), ``arange``: data movement and constants, never
an op's arithmetic. Everything else (a convolution, a matmul, a reduction, an elementwise op, an op
a candidate registered with ``torch.library``) is a fallback to the framework, unless the task
allows it. The runner executes exactly these ops, by name, on the real tensors.
"""

from __future__ import annotations

from collections.abc import Iterable

from verifier.allowlist import ALLOCATION, LAYOUT, RANDOM_FILLS

NOT_IN_PLANS = frozenset(
    {"aten.resize_", "aten.resize_as_", "aten.set_", "aten._copy_from", "aten._copy_from_and_resize", "aten.to"}
)
"""Allowed in the old in-process lock but never needed in a plan (storage surgery, internal copies)."""

DATA_MOVEMENT = frozenset(
    "aten." + n
    for n in [
        "constant_pad_nd",
        "reflection_pad1d",
        "reflection_pad2d",
        "reflection_pad3d",
        "replication_pad1d",
        "replication_pad2d",
        "replication_pad3d",
        "_pad_circular",
        "pad",
        "cat",
        "stack",
        "repeat",
        "flip",
        "roll",
        "arange",
        "new_empty_strided",
        "empty_permuted",
        "narrow_copy",
        "view_copy",
        "permute_copy",
        "expand_copy",
        "slice_copy",
        "select_copy",
        "transpose_copy",
        "t_copy",
        "unsqueeze_copy",
        "squeeze_copy",
        "as_strided_copy",
        "alias_copy",
        "detach_copy",
        "unbind_copy",
        "split_copy",
        "split_with_sizes_copy",
        "unfold_copy",
        "diagonal_copy",
    ]
)
"""Padding, joining and copying views: data movement honest launch code uses every day."""

PLAN_OPS: frozenset[str] = ((ALLOCATION | LAYOUT | RANDOM_FILLS | DATA_MOVEMENT) - NOT_IN_PLANS) | frozenset(
    {"aten.contiguous", "aten.reshape"}
)


def packet(op: str) -> str:
    """``aten.view.default`` -> ``aten.view``."""
    parts = op.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else op


def refused(op: str, extra_allowed: Iterable[str] = ()) -> bool:
    """Whether a plan may not hold ``op`` (an overload name such as ``aten.view.default``)."""
    return packet(op) not in PLAN_OPS and packet(op) not in frozenset(extra_allowed)
