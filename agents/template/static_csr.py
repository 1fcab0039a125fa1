"""Static (ast) recognition of CSR sparse x dense forwards, for when the sandboxed trace fails.

``verifier.trace_reference`` cannot describe a sparse CSR tensor (its tracer asks every tensor for
strides, and a CSR tensor has none), so references built on ``torch.sparse_csr_tensor`` (spmm.csr,
gcn.layer) fail to trace. This module reads ``Model.forward`` without running it and accepts only a
small, exact vocabulary: ``torch.sparse_csr_tensor(crow, col, values, size)`` of forward arguments,
``@`` / ``torch.mm`` / ``torch.matmul`` / ``torch.sparse.mm``, ``+`` / ``*``, ``.t()``, no-op
``.float()`` / ``.contiguous()`` / ``.to(x.dtype)``, plain assignments, ``with warnings...`` blocks and
shape reads. Anything else is ``NoTemplate``: a statement it does not understand is never skipped.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from agents.template.ir import Bin, Expr, Leaf, LeafE, NodeE, NodeRef, Program
from agents.template.optimise import optimise
from agents.template.recognise import Lowering, NoTemplate
from verifier.ast_tools import dotted_name
from verifier.parsing import parse as parse_source


@dataclass(frozen=True)
class _Sparse:
    crow: Leaf
    col: Leaf
    values: Leaf


class _Opaque:
    """A Python scalar (a shape read): fine as a size argument, never as a tensor."""


_NOOP_METHODS = {"float", "contiguous", "detach", "clone"}
_MM_FUNCS = {"torch.mm", "torch.matmul", "torch.sparse.mm"}


class _Evaluator:
    def __init__(self, args: list[str]) -> None:
        self.env: dict[str, Any] = {name: Leaf(f"input:{i}", shape=None) for i, name in enumerate(args)}
        self.args = args
        self.low = Lowering(SimpleNamespace(ops=[], inputs=[], parameters={}, outputs=[], truncated=False), args)
        self.dtype_from: Leaf | None = None
        self.saw_sparse = False

    def run(self, body: list[ast.stmt]) -> Any:
        for stmt in body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # docstring
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                self.env[stmt.targets[0].id] = self.eval(stmt.value)
            elif isinstance(stmt, ast.With) and all(
                (dotted_name(item.context_expr.func) or "").startswith("warnings.")
                for item in stmt.items
                if isinstance(item.context_expr, ast.Call)
            ):
                result = self.run(stmt.body)
                if result is not None:
                    return result
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                if not (dotted_name(stmt.value.func) or "").startswith("warnings."):
                    raise NoTemplate(f"statement on line {stmt.lineno} of forward is not understood statically")
            elif isinstance(stmt, ast.Return) and stmt.value is not None:
                return self.eval(stmt.value)
            else:
                raise NoTemplate(f"statement on line {stmt.lineno} of forward is not understood statically")
        return None

    def tensor(self, value: Any) -> Expr:
        if isinstance(value, Leaf):
            return LeafE(value)
        if isinstance(value, NodeRef):
            return NodeE(value.node)
        if isinstance(value, Expr):
            return value
        raise NoTemplate("a value that is not a dense tensor is used in arithmetic")

    def matmul(self, a: Any, b: Any) -> NodeRef:
        if isinstance(a, _Sparse):
            dense = self.low.operand(b if not isinstance(b, LeafE) else b.leaf, None)
            self.saw_sparse = True
            ops = {"crow": a.crow, "col": a.col, "values": a.values, "x": dense}
            return self.low.add_node("spmm", None, operands=ops)
        if isinstance(b, _Sparse):
            raise NoTemplate("dense x sparse product")
        operands = {"a": self.low.operand(a, None), "b": self.low.operand(b, None)}
        return self.low.add_node("matmul", None, operands=operands)

    def eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Name):
            if node.id not in self.env:
                raise NoTemplate(f"forward reads `{node.id}`, which it does not define")
            return self.env[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return _Opaque()
        if isinstance(node, ast.Tuple):
            return _Opaque()
        if isinstance(node, ast.Subscript):
            if dotted_name(node.value) and (dotted_name(node.value) or "").endswith(".shape"):
                return _Opaque()
            raise NoTemplate("indexing in forward")
        if isinstance(node, ast.Attribute):
            dotted = dotted_name(node)
            if dotted and dotted.startswith("self."):
                return Leaf("param:" + dotted[len("self.") :], shape=None)
            if dotted and dotted.endswith(".shape"):
                return _Opaque()
            if dotted and dotted.endswith(".dtype"):
                return ("dtype", self.eval(node.value))
            raise NoTemplate(f"attribute `{dotted}` in forward")
        if isinstance(node, ast.BinOp):
            a, b = self.eval(node.left), self.eval(node.right)
            if isinstance(node.op, ast.MatMult):
                return self.matmul(a, b)
            ops = {ast.Add: "add", ast.Mult: "mul", ast.Sub: "sub"}
            if type(node.op) not in ops:
                raise NoTemplate(f"operator {type(node.op).__name__} in forward")
            if isinstance(a, _Opaque) or isinstance(b, _Opaque):
                return _Opaque()
            return Bin(ops[type(node.op)], self.tensor(a), self.tensor(b))
        if isinstance(node, ast.Call):
            return self.call(node)
        raise NoTemplate(f"expression {type(node).__name__} in forward")

    def call(self, node: ast.Call) -> Any:
        func = dotted_name(node.func) or ""
        if func == "torch.sparse_csr_tensor":
            args = [self.eval(a) for a in node.args[:3]]
            if not all(isinstance(a, Leaf) and a.root.startswith("input:") for a in args):
                raise NoTemplate("sparse_csr_tensor of values computed in forward")
            return _Sparse(*args)
        if func in _MM_FUNCS and len(node.args) == 2:
            return self.matmul(self.eval(node.args[0]), self.eval(node.args[1]))
        if isinstance(node.func, ast.Attribute):
            target = self.eval(node.func.value)
            method = node.func.attr
            if method in _NOOP_METHODS and not node.args:
                return target
            if method == "t" and not node.args and isinstance(target, Leaf):
                return target.view("t")
            if method == "to" and len(node.args) == 1:
                arg = self.eval(node.args[0])
                if isinstance(arg, tuple) and arg[0] == "dtype" and isinstance(arg[1], Leaf):
                    self.dtype_from = arg[1]
                    return target
            if method == "size" or method == "dim":
                return _Opaque()
        raise NoTemplate(f"call `{func or ast.unparse(node.func)}` in forward is not understood statically")


def recognise_csr_statically(source: str, forward_args: list[str]) -> Program:
    """A ``Program`` for a CSR sparse x dense forward, read from its source (raises ``NoTemplate``)."""
    tree = parse_source(source)
    model = next((s for s in tree.body if isinstance(s, ast.ClassDef) and s.name == "Model"), None)
    methods = model.body if model is not None else []
    forward = next((s for s in methods if isinstance(s, ast.FunctionDef) and s.name == "forward"), None)
    if forward is None or not forward_args:
        raise NoTemplate("no Model.forward with plain positional arguments")
    ev = _Evaluator(forward_args)
    result = ev.run(forward.body)
    if result is None or not ev.saw_sparse:
        raise NoTemplate("forward does not compute a CSR sparse x dense product")
    root = ev.low.operand(result, None)
    if isinstance(root, Leaf):
        raise NoTemplate("forward returns an input")
    output = optimise(ev.low.nodes, root.node)
    return Program(
        nodes=ev.low.nodes,
        output=output,
        out_dtype=None,
        dtype_from=ev.dtype_from,
        input_names=forward_args,
        family="spmm",
        ops_seen=["torch.sparse_csr_tensor (read statically)"],
    )
