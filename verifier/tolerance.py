"""Numerical comparison of a candidate output with the reference output (trusted parent only).

Default bounds per dtype (element bound ``|c - r| <= atol + rtol * |r|`` AND norm bound
``||c - r||_2 <= max_rel_l2 * ||r||_2``):

=========  ======  ======  ==========  ==============================================================
dtype      atol    rtol    max_rel_l2  why
=========  ======  ======  ==========  ==============================================================
float64    1e-7    1e-7    1e-9        fp64 arithmetic is exact far beyond this
float32    1e-2    1e-2    1e-3        KernelBench's element bound; the norm bound admits tf32 dots
                                       (~3e-4) but rejects errors that the loose element bound hides
float16    1e-2    1e-2    3e-3        unit roundoff 4.9e-4, fp32 accumulation
bfloat16   2e-2    2e-2    1e-2        unit roundoff 3.9e-3
integers   exact                       integer and boolean outputs must match exactly
=========  ======  ======  ==========  ==============================================================

Where the reference is NaN or ±inf the candidate must be the same; where the reference is finite
the candidate must be finite. Tasks may tighten or loosen a dtype's bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from verifier.spec import Tolerance

DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(1e-7, 1e-7, 1e-9),
    "float32": Tolerance(1e-2, 1e-2, 1e-3),
    "float16": Tolerance(1e-2, 1e-2, 3e-3),
    "bfloat16": Tolerance(2e-2, 2e-2, 1e-2),
    "complex128": Tolerance(1e-7, 1e-7, 1e-9),
    "complex64": Tolerance(1e-2, 1e-2, 1e-3),
}
CHUNK = 1 << 22


def tolerance_for(dtype: torch.dtype, overrides: Mapping[str, Tolerance]) -> Tolerance | None:
    """The bound for ``dtype`` (None for integer/bool: exact match)."""
    name = str(dtype).removeprefix("torch.")
    if name in overrides:
        return overrides[name]
    return DEFAULT_TOLERANCES.get(name)


@dataclass
class Comparison:
    passed: bool
    detail: str


def _index(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    idx = []
    for size in reversed(shape):
        idx.append(flat_index % size if size else 0)
        flat_index = flat_index // size if size else 0
    return tuple(reversed(idx))


def compare(candidate: torch.Tensor, reference: torch.Tensor, tol: Tolerance | None) -> Comparison:
    """Compare two host tensors of equal shape and dtype element by element (chunked, float64)."""
    shape = tuple(reference.shape)
    c_flat, r_flat = candidate.reshape(-1), reference.reshape(-1)
    n = r_flat.numel()
    if tol is None:
        bad = int((c_flat != r_flat).sum())
        if bad == 0:
            return Comparison(True, f"all {n} elements equal")
        first = int((c_flat != r_flat).nonzero()[0])
        return Comparison(
            False,
            f"{bad} of {n} elements differ; first at index {list(_index(first, shape))}: "
            f"candidate {c_flat[first].item()}, reference {r_flat[first].item()}",
        )

    wide = torch.complex128 if reference.is_complex() else torch.float64
    violations = nonfinite = special_mismatch = 0
    worst_excess, worst_at, worst_c, worst_r, worst_bound = -1.0, -1, 0.0, 0.0, 0.0
    max_abs = 0.0
    diff_sq = ref_sq = 0.0
    first_nonfinite = first_special = -1
    for start in range(0, n, CHUNK):
        c = c_flat[start : start + CHUNK].to(wide)
        r = r_flat[start : start + CHUNK].to(wide)
        r_finite = torch.isfinite(r)
        c_finite = torch.isfinite(c)
        bad_nonfinite = r_finite & ~c_finite
        k = int(bad_nonfinite.sum())
        if k and first_nonfinite < 0:
            first_nonfinite = start + int(bad_nonfinite.nonzero()[0])
        nonfinite += k
        special = ~r_finite
        if bool(special.any()):
            same = (torch.isnan(c) & torch.isnan(r)) | (c == r)
            mism = special & ~same
            m = int(mism.sum())
            if m and first_special < 0:
                first_special = start + int(mism.nonzero()[0])
            special_mismatch += m
        both = r_finite & c_finite
        diff = torch.where(both, (c - r).abs(), torch.zeros((), dtype=torch.float64))
        bound = tol.atol + tol.rtol * torch.where(both, r.abs(), torch.zeros((), dtype=torch.float64))
        excess = diff - bound
        violations += int((excess > 0).sum())
        if diff.numel():
            max_abs = max(max_abs, float(diff.max()))
            j = int(excess.argmax())
            if float(excess[j]) > worst_excess:
                worst_excess, worst_at = float(excess[j]), start + j
                worst_c, worst_r, worst_bound = c[j].item(), r[j].item(), float(bound[j])
        diff_sq += float((diff**2).sum())
        ref_sq += float(torch.where(both, r.abs() ** 2, torch.zeros((), dtype=torch.float64)).sum())

    rel_l2 = (diff_sq**0.5) / (ref_sq**0.5) if ref_sq > 0 else (0.0 if diff_sq == 0 else float("inf"))
    parts = []
    if nonfinite:
        parts.append(
            f"{nonfinite} non-finite element(s) where the reference is finite, first at index "
            f"{list(_index(first_nonfinite, shape))} (candidate {c_flat[first_nonfinite].item()})"
        )
    if special_mismatch:
        parts.append(
            f"{special_mismatch} element(s) differ where the reference is NaN/inf, first at index "
            f"{list(_index(first_special, shape))}"
        )
    if violations:
        parts.append(
            f"{violations} of {n} elements ({100.0 * violations / max(n, 1):.3g}%) exceed atol={tol.atol:g} "
            f"rtol={tol.rtol:g}; worst at index {list(_index(worst_at, shape))}: candidate {worst_c:.6g}, "
            f"reference {worst_r:.6g}, |diff| {abs(worst_c - worst_r):.3g} > bound {worst_bound:.3g}"
        )
    if rel_l2 > tol.max_rel_l2:
        parts.append(f"relative L2 error {rel_l2:.3g} exceeds {tol.max_rel_l2:g}")
    if parts:
        return Comparison(False, "; ".join(parts))
    return Comparison(
        True,
        f"max |diff| {max_abs:.3g}, relative L2 error {rel_l2:.3g} (bounds atol={tol.atol:g} "
        f"rtol={tol.rtol:g} rel_l2={tol.max_rel_l2:g})",
    )
