"""The template compiler's intermediate form: tensors the forward can name, elementwise expressions, kernel nodes.

A reference's forward is lowered to a ``Program``: a list of ``Node`` s (one Triton kernel launch each,
in dependency order) and the node whose buffer is the output. Node operands are ``Leaf`` s (an input
or a parameter seen through shape-agnostic views: unsqueeze, transpose, narrow...) or other nodes.
Elementwise work is an ``Expr`` tree, either fused into a node as its epilogue or run by an
elementwise node. Shapes are those of the traced call (None where unknown, e.g. static matches).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Namer = Callable[["Leaf"], str]
"""Gives the forward's variable name of a leaf (emission defines the variables)."""
IntCode = Callable[[Namer], str]
"""A Python expression for an integer the forward computes at run time (a split size, say)."""


@dataclass(frozen=True)
class Leaf:
    """An input (``root = "input:0"``) or parameter (``"param:conv.weight"``) through views.

    ``views`` are (method, args) replayed as ``tensor.method(*args)``; an arg that is an ``IntCode``
    callable is rendered at emission. ``flip`` lists dims (negative, from the end) a kernel must read
    reversed (``aten.flip`` is compute, so it is folded into the kernel's indexing, never replayed).
    """

    root: str
    views: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    flip: tuple[int, ...] = ()

    def view(self, method: str, *args: Any, shape: tuple[int, ...] | None = None) -> Leaf:
        return Leaf(self.root, (*self.views, (method, tuple(args))), shape, self.dtype, self.flip)

    @property
    def rank(self) -> int | None:
        return len(self.shape) if self.shape is not None else None


class Expr:
    """Elementwise expression over fp32 values."""

    def children(self) -> tuple[Expr, ...]:
        return ()

    def walk(self) -> Iterator[Expr]:
        yield self
        for c in self.children():
            yield from c.walk()


@dataclass(frozen=True, eq=False)
class Const(Expr):
    value: float


@dataclass(frozen=True, eq=False)
class LeafE(Expr):
    leaf: Leaf


@dataclass(frozen=True, eq=False)
class NodeE(Expr):
    node: int


@dataclass(frozen=True, eq=False)
class Acc(Expr):
    """The anchor kernel's own result inside its epilogue."""


@dataclass(frozen=True, eq=False)
class Stat(Expr):
    """A statistic a fused norm kernel computed for the element's row (``name``: its variable there,
    broadcast over the row)."""

    name: str


@dataclass(frozen=True, eq=False)
class Un(Expr):
    op: str
    x: Expr
    args: tuple[Any, ...] = ()

    def children(self) -> tuple[Expr, ...]:
        return (self.x,)


@dataclass(frozen=True, eq=False)
class Bin(Expr):
    op: str
    a: Expr
    b: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.a, self.b)


@dataclass(frozen=True, eq=False)
class Where(Expr):
    """``a`` where ``cond`` is nonzero, else ``b`` (``masked_fill``, ``where``)."""

    cond: Expr
    a: Expr
    b: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.cond, self.a, self.b)


@dataclass(frozen=True)
class NodeRef:
    node: int


Operand = Leaf | NodeRef


@dataclass
class Branch:
    """One depthwise convolution summed into a ``dwconv`` node."""

    weight: Leaf
    bias: Leaf | None
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[tuple[str, int, int], ...]
    """Per spatial dim: ("same" | "causal" | "valid" | "const", left, right) as traced."""


@dataclass
class Node:
    """One kernel launch. ``kind``: dwconv (1D/2D, one or more branches summed), pwconv (1x1 conv),
    matmul, spmm, spmm_mm (CSR A times X times W), softmax, layernorm, norm (statistics and a normalised
    output in one kernel), cat, ewise."""

    id: int
    kind: str
    shape: tuple[int, ...] | None
    operands: dict[str, Operand | None] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    branches: list[Branch] = field(default_factory=list)
    epilogue: Expr | None = None
    """For anchor kinds: the elementwise expression of ``Acc`` (and leaves) stored instead of Acc."""

    @property
    def rank(self) -> int | None:
        return len(self.shape) if self.shape is not None else None


EPILOGUE_KINDS = frozenset({"dwconv", "pwconv", "matmul", "spmm", "spmm_mm", "conv"})


@dataclass
class Program:
    nodes: list[Node]
    output: int
    out_dtype: str | None
    """Traced output dtype; with ``dtype_from`` None the output is allocated in it."""
    dtype_from: Leaf | None
    """A leaf whose run-time dtype the output takes (it had the output's dtype in the trace)."""
    input_names: list[str]
    family: str
    ops_seen: list[str]

    def node(self, node_id: int) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def describe(self) -> str:
        kinds = []
        for n in self.nodes:
            label = n.kind + (f"x{len(n.branches)}" if n.kind == "dwconv" and len(n.branches) > 1 else "")
            if n.epilogue is not None and n.kind not in ("ewise", "norm"):
                label += "+epilogue"
            kinds.append(label)
        return " -> ".join(kinds)


def expr_nodes(expr: Expr | None) -> list[int]:
    return [e.node for e in expr.walk() if isinstance(e, NodeE)] if expr is not None else []


def expr_leaves(expr: Expr | None) -> list[Leaf]:
    seen: list[Leaf] = []
    for e in expr.walk() if expr is not None else ():
        if isinstance(e, LeafE) and e.leaf not in seen:
            seen.append(e.leaf)
    return seen
