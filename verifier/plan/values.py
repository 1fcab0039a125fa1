"""The launch plan's value encoding: JSON for every argument an allowed op or a kernel launch takes.

A tensor is never in a plan, only a reference to one: ``{"v": n}`` names value ``n`` (an input, a
parameter, a constant, or the output of an earlier step). Everything else is a literal:

  null | true | false | int | str | float     ``{"f": "nan"|"inf"|"-inf"}`` for non-finite floats
  {"l": [...]} list       {"t": [...]} tuple
  {"dt": "float32"}       a torch dtype        {"tl": "fp32"}   a Triton dtype (a constexpr argument)
  {"dev": "cuda:0"}       a torch device       {"mf": "contiguous_format"}  a memory format
  {"lay": "strided"}      a layout

The planner encodes (:func:`encode`, on its own process's objects: a forged encoding only describes
other literals); the parent and the runner decode with limits on depth, length and size
(:func:`decode`), and a malformed value is a :class:`PlanError`, never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from verifier.codec import DTYPES

MAX_DEPTH = 16
MAX_ITEMS = 4096
MAX_STRING = 256

TORCH_DTYPES: dict[str, torch.dtype] = dict(DTYPES)
TORCH_DTYPE_NAMES = {v: k for k, v in TORCH_DTYPES.items()}
MEMORY_FORMATS = {
    "contiguous_format": torch.contiguous_format,
    "channels_last": torch.channels_last,
    "channels_last_3d": torch.channels_last_3d,
    "preserve_format": torch.preserve_format,
}
LAYOUTS = {"strided": torch.strided}


class PlanError(ValueError):
    """A plan (or a value in it) that is malformed or breaks a rule; the message says which."""


def _names(table: dict[str, Any]) -> dict[Any, str]:
    return {v: k for k, v in table.items()}


_MEMORY_FORMAT_NAMES = _names(MEMORY_FORMATS)
_NAMED: dict[str, tuple[str, dict[str, Any]]] = {
    "f": ("a malformed float", {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}),
    "dt": ("an unknown dtype", TORCH_DTYPES),
    "mf": ("an unknown memory format", MEMORY_FORMATS),
    "lay": ("an unsupported layout", LAYOUTS),
}
"""The value tags whose body is a name: what a wrong name is called, and the table of names."""


def encode(value: Any, ref: Callable[[torch.Tensor], int], depth: int = 0) -> Any:
    """JSON for ``value``; each tensor becomes ``{"v": ref(tensor)}`` (``ref`` names or registers it)."""
    if depth > MAX_DEPTH:
        raise PlanError("an argument nested too deeply")
    if isinstance(value, torch.Tensor):
        return {"v": ref(value)}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, torch.dtype):
        if value not in TORCH_DTYPE_NAMES:
            raise PlanError(f"dtype {value} is not supported")
        return {"dt": TORCH_DTYPE_NAMES[value]}
    if isinstance(value, torch.device):
        return {"dev": str(value)}
    if isinstance(value, torch.memory_format):
        return {"mf": _MEMORY_FORMAT_NAMES.get(value, str(value))}
    if isinstance(value, torch.layout):
        if value is not torch.strided:
            raise PlanError(f"layout {value} is not supported (strided tensors only)")
        return {"lay": "strided"}
    if isinstance(value, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        raise PlanError("a symbolic size (shapes are concrete in a plan)")
    if isinstance(value, list):
        return {"l": [encode(v, ref, depth + 1) for v in value]}
    if isinstance(value, tuple):  # torch.Size included
        return {"t": [encode(v, ref, depth + 1) for v in value]}
    triton_dtype = _triton_dtype_name(value)
    if triton_dtype is not None:
        return {"tl": triton_dtype}
    constexpr_value = _triton_constexpr_value(value)
    if constexpr_value is not _ABSENT:
        return encode(constexpr_value, ref, depth + 1)
    raise PlanError(f"an argument of type {type(value).__module__}.{type(value).__qualname__} cannot be recorded")


_ABSENT = object()


def _triton_dtype_name(value: Any) -> str | None:
    try:
        import triton.language as tl
    except ImportError:  # pragma: no cover - triton is a dependency
        return None
    if isinstance(value, tl.dtype) and not isinstance(value, (tl.pointer_type, tl.block_type)):
        return str(value.name)
    return None


def _triton_constexpr_value(value: Any) -> Any:
    try:
        import triton.language as tl
    except ImportError:  # pragma: no cover
        return _ABSENT
    if isinstance(value, tl.constexpr):
        return value.value
    return _ABSENT


def _tagged(obj: Any) -> tuple[Any, Any]:
    """The tag and body of an encoded value that is not a plain one (a dict of one entry)."""
    if not isinstance(obj, dict) or len(obj) != 1:
        raise PlanError(f"a malformed value {str(obj)[:80]}")
    ((tag, body),) = obj.items()
    return tag, body


def decode(obj: Any, resolve: Callable[[int], Any], depth: int = 0) -> Any:
    """The value ``obj`` encodes; ``resolve(n)`` gives value ``n`` (raising PlanError if unknown)."""
    if depth > MAX_DEPTH:
        raise PlanError("a value nested too deeply")
    if obj is None or isinstance(obj, (bool, int)):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, str):
        if len(obj) > MAX_STRING:
            raise PlanError("a string argument too long")
        return obj
    tag, body = _tagged(obj)
    if tag == "v":
        if not isinstance(body, int) or isinstance(body, bool) or body < 0:
            raise PlanError(f"a malformed value reference {body!r}")
        return resolve(body)
    if tag in ("l", "t"):
        if not isinstance(body, list) or len(body) > MAX_ITEMS:
            raise PlanError("a malformed list")
        items = [decode(v, resolve, depth + 1) for v in body]
        return items if tag == "l" else tuple(items)
    if tag in _NAMED:
        what, table = _NAMED[tag]
        if not isinstance(body, str) or body not in table:
            raise PlanError(f"{what} {body!r}")
        return table[body]
    if tag == "dev":
        if not isinstance(body, str) or not (body == "cpu" or body.startswith("cuda")) or len(body) > 16:
            raise PlanError(f"an unknown device {body!r}")
        return torch.device(body)
    if tag == "tl":
        return _triton_dtype(body)
    raise PlanError(f"an unknown value tag {tag!r}")


def _triton_dtype(name: Any) -> Any:
    import triton.language as tl

    table = {
        value.name: value
        for value in vars(tl).values()
        if isinstance(value, tl.dtype) and not isinstance(value, (tl.pointer_type, tl.block_type))
    }
    if not isinstance(name, str) or name not in table:
        raise PlanError(f"an unknown Triton dtype {name!r}")
    return table[name]


def check_value(obj: Any, depth: int = 0, budget: list[int] | None = None) -> None:
    """Raise PlanError unless ``obj`` follows the grammar above exactly (known tags, bodies of the right
    type, at most ``MAX_DEPTH`` deep, at most ``MAX_ITEMS`` items in all): what the parent accepts
    from the planner before it walks, compares or stores anything."""
    budget = [MAX_ITEMS] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise PlanError("the plans hold too many values")
    if depth > MAX_DEPTH:
        raise PlanError("a value nested too deeply")
    if obj is None or isinstance(obj, (bool, int, float)):
        return
    if isinstance(obj, str):
        if len(obj) > MAX_STRING:
            raise PlanError("a string argument too long")
        return
    tag, body = _tagged(obj)
    if tag == "v":
        if not isinstance(body, int) or isinstance(body, bool) or body < 0:
            raise PlanError(f"a malformed value reference {str(body)[:40]}")
    elif tag in ("l", "t"):
        if not isinstance(body, list):
            raise PlanError("a malformed list")
        for item in body:
            check_value(item, depth + 1, budget)
    elif tag in ("f", "dt", "dev", "mf", "lay", "tl"):
        if not isinstance(body, str) or len(body) > 32:
            raise PlanError(f"a malformed {tag} value")
    else:
        raise PlanError(f"an unknown value tag {str(tag)[:20]!r}")


def refs(obj: Any, depth: int = 0) -> list[int]:
    """Every value number ``obj`` references (for validation: defined before use, kept across calls)."""
    if depth > MAX_DEPTH:
        raise PlanError("a value nested too deeply")
    if isinstance(obj, dict) and len(obj) == 1:
        ((tag, body),) = obj.items()
        if tag == "v":
            if not isinstance(body, int) or isinstance(body, bool) or body < 0:
                raise PlanError(f"a malformed value reference {body!r}")
            return [body]
        if tag in ("l", "t") and isinstance(body, list):
            return [r for v in body for r in refs(v, depth + 1)]
        return []
    if isinstance(obj, list):  # a step's positional arguments
        return [r for v in obj for r in refs(v, depth + 1)]
    return []
