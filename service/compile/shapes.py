"""The shape a model is compiled at: ``--shape NAME=VALUE`` constants, or its small tier, or as written.

The small tier is ``kiln bench``'s (``tasks.shrink``), checked by running the model in the verifier's
sandbox, with two differences, both because a model's kernel groups are verified one by one, each
against its own reference with its own random state: a whole model's parameters may exceed the
tier's element cap, and its output may be degenerate (a deep network at its random initialisation
can output ~0); a shape that runs is valid. The shrinker still prefers the smallest valid one; the
end-to-end check says when the model's output is degenerate (a match then says little).
"""

from __future__ import annotations

import ast
from typing import Any

from tasks.shrink import Attempt, SandboxRunner, ShrinkResult, shrink


class ShapeError(ValueError):
    """A ``--shape`` that does not parse, or a model with no small shape."""


def parse_shapes(items: list[str]) -> dict[str, Any]:
    """``["batch_size=2", "input_shape=(2, 3, 32, 32)"]`` -> constants (Python literals)."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ShapeError(f"--shape {item!r}: expected NAME=VALUE (a Python literal)")
        try:
            out[name.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            raise ShapeError(f"--shape {item!r}: {text!r} is not a Python literal") from None
    return out


class _WholeModelRunner(SandboxRunner):
    """The sandbox check of a shape, without the element cap (see the module docstring)."""

    def __call__(self, source: str, overrides: dict[str, Any]) -> Attempt:
        attempt = super().__call__(source, overrides)
        if attempt.kind in ("too_large", "degenerate"):
            attempt.kind, attempt.ok, attempt.reason = "ok", True, ""
        return attempt


def small_tier(source: str, timeout_s: float = 300.0) -> ShrinkResult:
    """The model's small shape (``ShapeError`` when none runs)."""
    result = shrink(source, run=_WholeModelRunner(timeout_s=timeout_s))
    if not result.ok:
        raise ShapeError(f"no small shape: {result.reason}")
    return result
