"""A stored task's metadata that changes what the verifier accepts: tolerances and allowed ops.

No local path writes either (``kiln tasks import`` and ``kiln bench`` store origin and shape notes
only); they arrive only in bundles. So a stored task may *tighten* a dtype's tolerance, never loosen it
beyond the verifier's default, and may not widen the allowlist of aten ops. The same rule checks a
bundle on import (``service.bundle_policy``) and a stored task when it is verified, so a store written
before the rule answers 422, not 500.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verifier import Tolerance

BOUNDS = ("atol", "rtol", "max_rel_l2")


def parse_tolerances(raw: Any) -> dict[str, Tolerance]:
    """``extra["tolerances"]`` as verifier tolerances; ``ValueError`` naming what is wrong."""
    from verifier import Tolerance
    from verifier.tolerance import DEFAULT_TOLERANCES

    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError("tolerances must be an object: dtype -> {atol, rtol, max_rel_l2}")
    parsed: dict[str, Tolerance] = {}
    for dtype, bound in raw.items():
        default = DEFAULT_TOLERANCES.get(dtype)
        if default is None:
            raise ValueError(f"tolerances: unknown dtype {dtype!r} (one of {', '.join(DEFAULT_TOLERANCES)})")
        if not isinstance(bound, Mapping) or set(bound) != set(BOUNDS):
            raise ValueError(f"tolerances.{dtype} must be an object with exactly {', '.join(BOUNDS)}")
        values: dict[str, float] = {}
        for key in BOUNDS:
            value = bound[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"tolerances.{dtype}.{key} must be a finite number >= 0, not {value!r}")
            limit = getattr(default, key)
            if value > limit:
                raise ValueError(
                    f"tolerances.{dtype}.{key} = {value:g} is looser than the verifier's default ({limit:g}): "
                    "a stored task may only tighten a tolerance"
                )
            values[key] = float(value)
        parsed[str(dtype)] = Tolerance(**values)
    return parsed


def check_task_extra(extra: Mapping[str, Any]) -> None:
    """Refuse (``ValueError``) tolerances that are malformed or loosen a default, and any allowed ops."""
    parse_tolerances(extra.get("tolerances"))
    if extra.get("allowed_ops"):
        raise ValueError("allowed_ops: a stored task cannot widen the verifier's allowlist of aten ops")
