"""What every kernel template shares: the emission context, epilogue code and launch-argument helpers."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from agents.template.ir import Acc, Bin, Const, Expr, Leaf, LeafE, Node, NodeE, NodeRef, Operand, Stat, Un, Where


@dataclass
class Ctx:
    """Emission state handed to each template: variable names and the tuning profile."""

    var: Callable[[Operand], str]
    """Forward variable holding a leaf or a node's buffer."""
    params: dict[str, Any]
    """Tuning parameters of this node's kind (block sizes, warps, stages)."""
    name: str
    """The kernel function's name."""
    lines: list[str] = field(default_factory=list)


def block(var: str, cap: int, floor: int = 1) -> str:
    """Run-time block size: the next power of two of ``var`` clamped to [floor, cap]."""
    return f"max({floor}, min({cap}, triton.next_power_of_2(max(1, {var}))))"


def warps(params: dict[str, Any]) -> str:
    out = f"num_warps={int(params.get('num_warps', 4))}"
    if "num_stages" in params:
        out += f", num_stages={int(params['num_stages'])}"
    return out


_UNARY_CODE = {
    "neg": "(-{x})",
    "relu": "tl.maximum({x}, 0.0)",
    "sigmoid": "tl.sigmoid({x})",
    "silu": "({x} * tl.sigmoid({x}))",
    "tanh": "(2.0 * tl.sigmoid(2.0 * {x}) - 1.0)",
    "exp": "tl.exp({x})",
    "sqrt": "tl.sqrt({x})",
    "rsqrt": "tl.rsqrt({x})",
    "abs": "tl.abs({x})",
    "gelu": "(0.5 * {x} * (1.0 + tl.erf({x} * 0.7071067811865476)))",
    "gelu_tanh": "(0.5 * {x} * (2.0 * tl.sigmoid(1.5957691216057308 * ({x} + 0.044715 * {x} * {x} * {x}))))",
    "log": "tl.log({x})",
    "sin": "tl.sin({x})",
    "cos": "tl.cos({x})",
    "erf": "tl.erf({x})",
    "floor": "tl.floor({x})",
    "ceil": "tl.ceil({x})",
    "reciprocal": "(1.0 / {x})",
    "trunc": "tl.where({x} >= 0.0, tl.floor({x}), tl.ceil({x}))",
    # round half to even, as torch.round
    "round": (
        "tl.where((tl.floor({x} + 0.5) - {x} == 0.5) & (tl.floor({x} + 0.5) % 2.0 != 0.0),"
        " tl.floor({x} + 0.5) - 1.0, tl.floor({x} + 0.5))"
    ),
    "sign": "tl.where({x} > 0.0, 1.0, tl.where({x} < 0.0, -1.0, 0.0))",
    "hardsigmoid": "tl.minimum(tl.maximum({x} / 6.0 + 0.5, 0.0), 1.0)",
    "hardswish": "({x} * tl.minimum(tl.maximum({x} + 3.0, 0.0), 6.0) / 6.0)",
    "mish": "({x} * (2.0 * tl.sigmoid(2.0 * tl.where({x} > 20.0, {x}, tl.log(1.0 + tl.exp({x})))) - 1.0))",
    # with args: a0, a1, ... are the op's scalar arguments
    "leaky_relu": "tl.where({x} > 0.0, {x}, {x} * {a0})",
    "elu": "({a1} * tl.where({x} > 0.0, {x}, {a0} * (tl.exp({x} * {a2}) - 1.0)))",
    "softplus": "tl.where({x} * {a0} > {a1}, {x}, tl.log(1.0 + tl.exp({x} * {a0})) / {a0})",
    "pow_scalar": "tl.exp({a0} * tl.log({x}))",
    "smooth_l1": "tl.where(tl.abs({x}) < {a0}, 0.5 * {x} * {x} / {a0}, tl.abs({x}) - 0.5 * {a0})",
    "huber": "tl.where(tl.abs({x}) < {a0}, 0.5 * {x} * {x}, {a0} * (tl.abs({x}) - 0.5 * {a0}))",
}
_BINARY_CODE = {
    "add": "({a} + {b})",
    "sub": "({a} - {b})",
    "mul": "({a} * {b})",
    "div": "({a} / {b})",
    "max": "tl.maximum({a}, {b})",
    "min": "tl.minimum({a}, {b})",
    "pow": "tl.exp({b} * tl.log({a}))",
    "xlogy": "tl.where({a} == 0.0, 0.0, {a} * tl.log({b}))",
    "gt": "tl.where({a} > {b}, 1.0, 0.0)",
    "lt": "tl.where({a} < {b}, 1.0, 0.0)",
    "ge": "tl.where({a} >= {b}, 1.0, 0.0)",
    "le": "tl.where({a} <= {b}, 1.0, 0.0)",
    "eq": "tl.where({a} == {b}, 1.0, 0.0)",
    "ne": "tl.where({a} != {b}, 1.0, 0.0)",
}


class Epilogue:
    """The elementwise expression a kernel applies before its store.

    Every leaf or node buffer it reads becomes kernel arguments ``e<k>_ptr, e<k>_s0 ...`` (the tensor
    expanded to the output's shape, so broadcasting is a zero stride), loaded at the output's index.
    """

    def __init__(self, expr: Expr | None, rank: int, prefix: str = "e") -> None:
        self.expr = expr
        self.rank = rank
        self.prefix = prefix  # of the kernel arguments (``e0_ptr``) and, but for "e", the temporaries
        self.temp = "v" if prefix == "e" else f"{prefix}v"
        self.inputs: list[Operand] = []
        for e in expr.walk() if expr is not None else ():
            operand: Operand | None = None
            if isinstance(e, LeafE):
                operand = e.leaf
            elif isinstance(e, NodeE):
                operand = NodeRef(e.node)
            if operand is not None and operand not in self.inputs:
                self.inputs.append(operand)

    def kernel_params(self) -> str:
        parts = []
        for k in range(len(self.inputs)):
            parts.append(f"{self.prefix}{k}_ptr")
            parts += [f"{self.prefix}{k}_s{d}" for d in range(self.rank)]
        return "".join(p + ", " for p in parts)

    def kernel_head(self, name: str, params: list[str], constexprs: list[str]) -> list[str]:
        """A kernel's first lines: ``@triton.jit``, ``def name(``, a line each of ``params``, the
        epilogue's parameters (``kernel_params``), a line each of ``constexprs``, and ``):``."""
        return [
            "@triton.jit",
            f"def {name}(",
            *("    " + line for line in params),
            "    " + self.kernel_params(),
            *("    " + line for line in constexprs),
            "):",
        ]

    def prelude(self, ctx: Ctx, shape_var: str, prefix: str) -> list[str]:
        return [f"{prefix}{self.prefix}{k} = {ctx.var(op)}.expand({shape_var})" for k, op in enumerate(self.inputs)]

    def output(self, ctx: Ctx, alloc: str, prefix: str) -> list[str]:
        """The lines that allocate the output (``alloc`` at the shape ``{prefix}shape``) and expand the
        epilogue's inputs to that shape (``prelude``)."""
        return [alloc.format(shape=f"{prefix}shape"), *self.prelude(ctx, f"{prefix}shape", prefix)]

    def call_args(self, prefix: str) -> str:
        e = f"{prefix}{self.prefix}"
        return "".join(f"{e}{k}, *{e}{k}.stride(), " for k in range(len(self.inputs)))

    def body(
        self,
        index: list[str],
        mask: str,
        acc: str = "acc",
        indent: str = "    ",
        flat: str | None = None,
        flat_of: dict[int, str] | None = None,
        held: list[tuple[Expr, str]] | None = None,
    ) -> list[str]:
        """Kernel lines that replace ``acc`` with the epilogue's value. ``flat``: every input is
        contiguous in the output's shape, so each is read at this flat offset (no per-dim index);
        ``flat_of``: another offset for some inputs (by index); ``held``: subexpressions (an input's
        ``LeafE``, an expression of inputs) whose float32 values at the output's index the kernel
        already holds in the named variable."""
        if self.expr is None:
            return []
        lines: list[str] = []
        counter = [0]
        loaded: dict[int, str] = {}
        e_ = self.prefix

        def load(k: int) -> str:
            if flat is not None:
                at = (flat_of or {}).get(k, flat)
                return f"tl.load({e_}{k}_ptr + {at}, mask={mask}, other=0.0).to(tl.float32)"
            offs = " + ".join(f"({index[d]}) * {e_}{k}_s{d}" for d in range(self.rank))
            return f"tl.load({e_}{k}_ptr + {offs}, mask={mask}, other=0.0).to(tl.float32)"

        def render(e: Expr) -> str:
            for sub, name in held or ():
                if same_expr(e, sub):
                    return name
            if isinstance(e, Acc):
                return acc
            if isinstance(e, Stat):
                return e.name
            if isinstance(e, Const):
                return const_code(e.value)
            if isinstance(e, LeafE | NodeE):
                operand = e.leaf if isinstance(e, LeafE) else NodeRef(e.node)
                k = self.inputs.index(operand)
                if k in loaded:  # an input named twice (x * x) is loaded once
                    return loaded[k]
                code = load(k)
            elif isinstance(e, Un):
                x = render(e.x)
                if e.op == "cast":
                    code = f"{x}.to(tl.{e.args[0]}).to(tl.float32)"
                else:
                    scalars = {f"a{i}": repr(float(a)) for i, a in enumerate(e.args)}
                    code = _UNARY_CODE[e.op].format(x=x, **scalars)
            elif isinstance(e, Bin):
                code = _BINARY_CODE[e.op].format(a=render(e.a), b=render(e.b))
            elif isinstance(e, Where):
                code = f"tl.where({render(e.cond)} != 0.0, {render(e.a)}, {render(e.b)})"
            else:  # pragma: no cover - the IR has no other kinds
                raise TypeError(type(e).__name__)
            counter[0] += 1
            name = f"{self.temp}{counter[0]}"
            lines.append(f"{indent}{name} = {code}")
            if isinstance(e, LeafE | NodeE):
                loaded[self.inputs.index(e.leaf if isinstance(e, LeafE) else NodeRef(e.node))] = name
            return name

        result = render(self.expr)
        lines.append(f"{indent}{acc} = {result}")
        return lines


def same_expr(a: Expr, b: Expr) -> bool:
    """Whether two expressions compute the same thing from the same inputs (``Expr`` itself compares
    by identity, and rewrites rebuild expressions)."""
    if type(a) is not type(b):
        return False
    for f in fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        if not (same_expr(x, y) if isinstance(x, Expr) else x == y):
            return False
    return True


def const_code(value: float) -> str:
    """A constant as kernel code: ``float('-inf')`` for an infinity or NaN (``repr`` gives ``-inf``)."""
    value = float(value)
    return repr(value) if math.isfinite(value) else f"float({repr(value)!r})"


def leaf_or_none(ctx: Ctx, operand: Leaf | None, fallback: str) -> str:
    return ctx.var(operand) if operand is not None else fallback


def node_operand(node: Node, key: str) -> Operand:
    value = node.operands[key]
    assert value is not None
    return value


def window_3d(attrs: dict[str, Any], spec: dict[str, int]) -> list[list[int]]:
    """A window's per-dim settings over 3 spatial dims: for each ``name: fill`` of ``spec``, the node's
    ``attrs[name]`` with ``fill`` put in front of it for the dims a 1D or 2D window lacks."""
    missing = 3 - int(attrs["spatial"])
    return [[fill] * missing + list(attrs[name]) for name, fill in spec.items()]
