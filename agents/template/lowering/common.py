"""What every family's lowering shares: ``NoTemplate``, the trace's argument readers, small shape helpers."""

from __future__ import annotations

from typing import Any

from agents.template.ir import Expr, Leaf, Namer, NodeRef

FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")


class NoTemplate(Exception):
    """The op is not one the template compiler has a kernel for (the message says why)."""


Value = Leaf | Expr | NodeRef | list  # list: the outputs of a split


def tensor_desc(arg: Any) -> dict[str, Any] | None:
    """``arg`` when it describes a tensor of the trace (a dict with its ``tensor`` label), else None."""
    return arg if isinstance(arg, dict) and "tensor" in arg else None


def arg_of(op: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    """An op's argument by position, else by keyword ``name``, else ``default``."""
    args = op.get("args", [])
    if index < len(args):
        return args[index]
    return op.get("kwargs", {}).get(name, default)


def norm_dim(dim: int, rank: int) -> int:
    """``dim`` counted from the front (a negative dim is from the end)."""
    return dim + rank if dim < 0 else dim


def prod_ints(sizes: Any) -> int:
    """The product of ``sizes`` as integers (1 for none)."""
    out = 1
    for n in sizes:
        out *= int(n)
    return out


def run_code(a: int, b: int) -> Any:
    """Code for the product of a tensor's dims ``a`` to ``b`` (exclusive), read at run time."""

    def code(namer: Namer) -> str:
        return f"{{base}}.shape[{a}]" if b == a + 1 else f"_prod({{base}}.shape[{a}:{b}])"

    return code


def input_shape(op: dict[str, Any], index: int = 0, name: str = "self") -> tuple[int, ...]:
    """The traced shape of an op's tensor argument; ``NoTemplate`` when it is not a tensor."""
    arg = arg_of(op, index, name)
    if not tensor_desc(arg):
        raise NoTemplate(f"{op['op']}: argument {name} is not a tensor")
    return tuple(arg["shape"])


def render_int(value: Any, namer: Namer) -> str:
    """An integer as code: a literal, or a run-time expression (an ``IntCode``) in parentheses."""
    return str(value) if isinstance(value, int) else f"({value(namer)})"
