"""Recognise a reference op from its sandboxed aten trace and lower it to a ``Program``: the walk.

The trace (``verifier.trace_reference``) lists the aten ops the reference's forward dispatched, with
data-flow labels (``inputN``, ``param:<name>``, ``opK.outJ``). Lowering starts at the output and walks
back through producers; each op is lowered by the handler its family registers in
``agents.template.lowering.HANDLERS`` (views and copies, pointwise, convolution, transposed
convolution, FFT, matmul and attention, reductions, norms, pooling, sparse):

* inputs and parameters, through shape-agnostic views (unsqueeze, transpose, permute, narrow,
  split pieces), become ``Leaf`` s the candidate's forward names directly;
* pointwise ops (add, mul, div, gelu, sigmoid, casts...) become an ``Expr``;
* anchors (convolutions, the FFT causal-convolution pattern, matrix products, attention, CSR
  sparse x dense, reductions, norms, pooling, channel concatenation) become kernel nodes.

Anything else raises ``NoTemplate`` naming the op, so no kernel is guessed for an op it does not know.
Sizes that vary between shapes are not copied from the trace where a rule explains them: 'same' and
causal paddings follow the kernel size at run time, split sizes follow the convolutions consuming
the pieces.
"""

from __future__ import annotations

from typing import Any

from agents.template.ir import Acc, Expr, Leaf, LeafE, Node, NodeE, NodeRef, Operand, Program
from agents.template.lowering import HANDLERS
from agents.template.lowering.common import FLOAT_DTYPES, NoTemplate, Value, arg_of, tensor_desc
from agents.template.lowering.pointwise import BINARY, UNARY, pointwise
from agents.template.optimise import optimise


class Lowering:
    """Walks one trace from its output back to inputs and parameters, building nodes as it goes."""

    def __init__(self, trace: Any, input_names: list[str]) -> None:
        self.ops: list[dict[str, Any]] = trace.ops
        self.trace = trace
        self.input_names = input_names
        self.producer: dict[str, tuple[int, int]] = {}
        for i, op in enumerate(self.ops):
            for j, out in enumerate(op.get("outputs", [])):
                if tensor_desc(out):
                    self.producer[out["tensor"]] = (i, j)
        self.nodes: list[Node] = []
        self.memo: dict[str, Value] = {}
        self.materialised: dict[int, NodeRef] = {}

    # -- entry ----------------------------------------------------------------------------------
    def program(self, family_hint: str = "") -> Program:
        if self.trace.truncated:
            raise NoTemplate("the trace was truncated (too many ops)")
        outs = self.trace.outputs
        if len(outs) != 1 or not tensor_desc(outs[0]):
            raise NoTemplate("the forward returns several values or a non-tensor; templates return one tensor")
        out = outs[0]
        root = self.value(out["tensor"], out)
        root_node = self.operand(root, out.get("shape"))
        if isinstance(root_node, Leaf):
            root_node = self.ewise(LeafE(root_node), out.get("shape"))
        output = optimise(self.nodes, root_node.node)
        dtype_from = self._dtype_source(out.get("dtype"), len(out.get("shape", [])))
        return Program(
            nodes=self.nodes,
            output=output,
            out_dtype=out.get("dtype"),
            dtype_from=dtype_from,
            input_names=self.input_names,
            family=family_hint or self._family(),
            ops_seen=sorted({op["op"] for op in self.ops}),
        )

    def _dtype_source(self, dtype: str | None, rank: int) -> Leaf | None:
        """A float input with the output's traced dtype (one of the output's rank first)."""
        found = [
            Leaf(f"input:{i}", shape=tuple(d["shape"]), dtype=dtype)
            for i, d in enumerate(self.trace.inputs)
            if tensor_desc(d) and d.get("dtype") == dtype and dtype in FLOAT_DTYPES
        ]
        same_rank = [leaf for leaf in found if leaf.rank == rank]
        return (same_rank or found or [None])[0]

    def _family(self) -> str:
        kinds = ["spmm" if n.kind == "spmm_mm" else n.kind for n in self.nodes]
        if any(n.kind == "dwconv" and n.attrs.get("fft") for n in self.nodes):
            return "long_conv_fft"
        for kind in ("spmm", "dwconv", "pwconv", "matmul", "softmax", "layernorm"):
            if kind in kinds:
                return kind
        return "pointwise"

    # -- values ---------------------------------------------------------------------------------
    def value(self, label: str, desc: dict[str, Any] | None = None) -> Value:
        if label in self.memo:
            return self.memo[label]
        result = self._value(label, desc)
        self.memo[label] = result
        return result

    def _value(self, label: str, desc: dict[str, Any] | None) -> Value:
        if label.startswith("input"):
            index = int(label[len("input") :])
            d = self.trace.inputs[index]
            return Leaf(f"input:{index}", shape=tuple(d["shape"]), dtype=d.get("dtype"))
        if label.startswith("param:"):
            d = self.trace.parameters.get(label[len("param:") :], desc or {})
            return Leaf(label, shape=tuple(d.get("shape", [])) or None, dtype=d.get("dtype"))
        if label == "const" or label not in self.producer:
            raise NoTemplate(f"the forward uses a tensor created inside it ({label}); templates cannot name it")
        index, out_index = self.producer[label]
        op = self.ops[index]
        name = op["op"]
        out = op["outputs"][out_index]
        shape = tuple(out["shape"]) if tensor_desc(out) else None
        if out_index and name not in ("aten.split_with_sizes", "aten.split", "aten.native_layer_norm"):
            raise NoTemplate(f"{name} output {out_index} is used; only its first output is understood")
        if out.get("dtype", "").startswith("complex") and name != "aten._fft_c2r":
            raise NoTemplate(f"complex intermediate from {name} outside the FFT convolution pattern")
        handler = HANDLERS.get(name)
        if handler is None:
            if name in UNARY or name in BINARY:
                return pointwise(self, op, name, shape)
            raise NoTemplate(f"no template for `{name}`")
        return handler(self, op, index, out_index, shape)

    def expr(self, val: Value) -> Expr:
        if isinstance(val, Expr):
            return val
        if isinstance(val, Leaf):
            if val.flip:
                raise NoTemplate("a flipped tensor is used outside a convolution weight")
            return LeafE(val)
        if isinstance(val, NodeRef):
            return NodeE(val.node)
        raise NoTemplate("a multi-output value is used as a tensor")

    def operand(self, val: Value, shape: Any) -> NodeRef | Leaf:
        """A kernel input: a leaf or node as is, an expression materialised by an elementwise node."""
        if isinstance(val, Leaf | NodeRef):
            return val
        if isinstance(val, NodeE):
            return NodeRef(val.node)
        if isinstance(val, LeafE):
            return val.leaf
        if isinstance(val, Expr):
            key = id(val)
            if key not in self.materialised:
                self.materialised[key] = self.ewise(val, shape)
            return self.materialised[key]
        raise NoTemplate("a multi-output value is used as a tensor")

    def add_node(self, kind: str, shape: Any, **fields: Any) -> NodeRef:
        node = Node(id=len(self.nodes), kind=kind, shape=tuple(shape) if shape is not None else None, **fields)
        self.nodes.append(node)
        return NodeRef(node.id)

    def ewise(self, expr: Expr, shape: Any) -> NodeRef:
        return self.add_node("ewise", shape, epilogue=expr)

    def tensor_arg(self, op: dict[str, Any], index: int, name: str) -> Value:
        arg = arg_of(op, index, name)
        if not tensor_desc(arg):
            raise NoTemplate(f"{op['op']}: argument {name} is not a tensor")
        return self.value(arg["tensor"], arg)

    def leaf_arg(self, op: dict[str, Any], index: int, name: str) -> Leaf:
        val = self.tensor_arg(op, index, name)
        if isinstance(val, LeafE):
            val = val.leaf
        if not isinstance(val, Leaf):
            raise NoTemplate(f"{op['op']}: {name} must be an input or parameter (it is computed)")
        return val


def lower_trace(trace: Any, input_names: list[str]) -> Program:
    """Lower an ``OpTrace`` to a ``Program``; raises ``NoTemplate`` for ops without a template."""
    if not trace.ops:
        raise NoTemplate("the forward dispatches no aten op")
    return Lowering(trace, input_names).program()


__all__ = ["Acc", "NoTemplate", "Operand", "Value", "lower_trace"]
