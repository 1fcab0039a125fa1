"""Is a reference output informative enough to judge a kernel by?

A reference that returns a constant (or ~zero) tensor on its inputs cannot tell a real kernel from
one that returns that constant, so the verifier refuses to accept anything against it.
"""

from __future__ import annotations

import torch

NEAR_ZERO_ABS = 1e-6
"""Largest |value| under which an output counts as ~zero."""
CONSTANT_REL_STD = 1e-6
"""Standard deviation, relative to the mean |value|, under which an output counts as constant."""


def degeneracy(output: torch.Tensor) -> str | None:
    """Why ``output`` is degenerate (constant or ~zero), or None when it is informative.

    Integer and boolean outputs are only checked for being constant. Single-element outputs are
    never called degenerate (a reduction to a scalar is legitimately one number).
    """
    if output.numel() <= 1:
        return None
    x = output.detach().to("cpu")
    if not (x.is_floating_point() or x.is_complex()):
        return "every element is equal" if bool((x == x.reshape(-1)[0]).all()) else None
    x = x.to(torch.complex128 if x.is_complex() else torch.float64)
    finite = torch.isfinite(x)
    if not bool(finite.any()):
        return "no element is finite"
    x = x[finite]
    mag = x.abs()
    peak = float(mag.max())
    if peak < NEAR_ZERO_ABS:
        return f"all finite elements are ~zero (max |x| = {peak:.3g} < {NEAR_ZERO_ABS:g})"
    spread = float((x - x.mean()).abs().pow(2).mean().sqrt())
    scale = float(mag.mean())
    if spread <= CONSTANT_REL_STD * scale:
        return f"output is constant (std {spread:.3g} vs mean |x| {scale:.3g})"
    return None
