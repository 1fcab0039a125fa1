"""Matrix products and attention: mm, addmm, bmm, triu/tril of a product, and scaled dot-product attention."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.template.ir import Acc, Bin, Const, Expr, Leaf, Namer, NodeE, NodeRef
from agents.template.lowering.common import NoTemplate, Value, arg_of, prod_ints, run_code, tensor_desc
from agents.template.lowering.sparse import spmm

if TYPE_CHECKING:
    from agents.template.recognise import Lowering


def mm_op(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    a_desc = arg_of(op, 0, "self")
    at = low.producer.get(a_desc["tensor"])
    if at is not None and low.ops[at[0]]["op"] == "aten.sparse_compressed_tensor":
        return spmm(low, low.ops[at[0]], arg_of(op, 1, "mat2"), shape)
    a = low.operand(low.tensor_arg(op, 0, "self"), a_desc["shape"])
    b = low.operand(low.tensor_arg(op, 1, "mat2"), arg_of(op, 1, "mat2")["shape"])
    return low.add_node("matmul", shape, operands={"a": a, "b": b})


def bmm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    a = low.operand(low.tensor_arg(op, 0, "self"), arg_of(op, 0, "self")["shape"])
    b = low.operand(low.tensor_arg(op, 1, "mat2"), arg_of(op, 1, "mat2")["shape"])
    return low.add_node("matmul", shape, operands={"a": a, "b": b}, attrs={"batched": True})


def triangle(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """triu / tril of a product computed here only for it: the matmul masks its tile before the store."""
    src = arg_of(op, 0, "self")
    consumers = sum(
        1
        for o in low.ops
        for a in [*o.get("args", []), *o.get("kwargs", {}).values()]
        if tensor_desc(a) and a["tensor"] == src["tensor"]
    )
    val = low.tensor_arg(op, 0, "self")
    node = low.nodes[val.node] if isinstance(val, NodeRef) else None
    if node is None or node.kind != "matmul" or node.epilogue is not None or consumers != 1 or len(shape) != 2:
        raise NoTemplate(f"{op['op']} of something other than a matrix product used only there")
    node.attrs["triangle"] = ("upper" if op["op"] == "aten.triu" else "lower", int(arg_of(op, 1, "diagonal", 0) or 0))
    return val


def attention(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Scaled dot-product attention without mask, dropout or causality: softmax(Q K^T * scale) V as two
    batched matmuls (the scale fused into the first) and a row softmax, over (batch * heads) views."""
    kwargs = op.get("kwargs", {})
    if (
        float(arg_of(op, 3, "dropout_p", 0.0) or 0.0) != 0.0
        or bool(arg_of(op, 4, "is_causal", False))
        or tensor_desc(kwargs.get("attn_mask"))
    ):
        raise NoTemplate("attention with dropout, a mask or causality")
    q, k, v = (low.leaf_arg(op, i, n) for i, n in ((0, "query"), (1, "key"), (2, "value")))
    if any(leaf.flip or leaf.shape is None or len(leaf.shape) < 3 for leaf in (q, k, v)):
        raise NoTemplate("attention operands other than inputs of rank 3 or more")
    rank = len(q.shape)  # type: ignore[arg-type]
    scale = kwargs.get("scale")
    scale = float(scale) if scale is not None else 1.0 / float(q.shape[-1]) ** 0.5  # type: ignore[index]

    def batched(leaf: Leaf) -> Leaf:
        s = leaf.shape or ()
        return leaf.view(
            "reshape", run_code(0, rank - 2), run_code(rank - 2, rank - 1), run_code(rank - 1, rank),
            shape=(prod_ints(s[:-2]), s[-2], s[-1]),
        )  # fmt: skip

    q3, k3, v3 = batched(q), batched(k), batched(v)
    kt = k3.view("transpose", 1, 2, shape=(k3.shape[0], k3.shape[2], k3.shape[1]))  # type: ignore[index]
    scores_shape = (q3.shape[0], q3.shape[1], k3.shape[1])  # type: ignore[index]
    scores = low.add_node(
        "matmul",
        scores_shape,
        operands={"a": q3, "b": kt},
        attrs={"batched": True},
        epilogue=Bin("mul", Acc(), Const(scale)),
    )
    probs = low.add_node("softmax", scores_shape, operands={"x": scores})
    out3 = low.add_node(
        "matmul", (q3.shape[0], q3.shape[1], v3.shape[2]), operands={"a": probs, "b": v3}, attrs={"batched": True}
    )  # type: ignore[index]
    back = (*(_shape_of(q, d) for d in range(rank - 1)), _shape_of(v, rank - 1))
    return low.add_node("view", shape, operands={"x": out3}, attrs={"method": "reshape", "args": back})


def _shape_of(leaf: Leaf, dim: int) -> Any:
    def code(namer: Namer) -> str:
        return f"{namer(leaf)}.shape[{dim}]"

    return code


def addmm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    beta = op.get("kwargs", {}).get("beta", 1)
    alpha = op.get("kwargs", {}).get("alpha", 1)
    bias = low.expr(low.tensor_arg(op, 0, "self"))
    a = low.operand(low.tensor_arg(op, 1, "mat1"), arg_of(op, 1, "mat1")["shape"])
    b = low.operand(low.tensor_arg(op, 2, "mat2"), arg_of(op, 2, "mat2")["shape"])
    mm: Expr = NodeE(low.add_node("matmul", shape, operands={"a": a, "b": b}).node)
    if alpha != 1:
        mm = Bin("mul", mm, Const(float(alpha)))
    if beta != 1:
        bias = Bin("mul", bias, Const(float(beta)))
    return Bin("add", mm, bias)
