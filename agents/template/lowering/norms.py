"""Softmax variants and normalisations: softmax/log-softmax, layer norm, batch norm and group norm.

Normalisations with batch statistics (layer norm over several dims, group and instance norm, batch
norm in training) lower to one fused ``norm`` node (``templates/norm.py``: statistics and output in one
kernel, the input read once when a row fits, twice otherwise) where its operand's reduced dims allow it,
else to the generic chain (mean, deviation, variance, output)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.template.ir import Acc, Bin, Const, Expr, Leaf, LeafE, Namer, NodeE, NodeRef, Operand, Un
from agents.template.lowering.common import NoTemplate, Value, arg_of, norm_dim, prod_ints, tensor_desc
from agents.template.lowering.reductions import as_node, reduce_node
from agents.template.templates.norm import MEAN, TOP, TOTAL, VAR, supported_dims

if TYPE_CHECKING:
    from agents.template.recognise import Lowering


def _softmax(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    dim = norm_dim(int(arg_of(op, 1, "dim")), len(shape))
    if dim != len(shape) - 1:
        raise NoTemplate("softmax over a dim other than the last")
    x = low.operand(low.tensor_arg(op, 0, "self"), shape)
    return low.add_node("softmax", shape, operands={"x": x})


def _layer_norm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    if out_index != 0:
        raise NoTemplate("layer norm statistics are used")
    if len(arg_of(op, 1, "normalized_shape")) != 1:
        raise NoTemplate("layer norm over more than the last dim")
    x = low.operand(low.tensor_arg(op, 0, "input"), shape)
    w = low.leaf_arg(op, 2, "weight") if tensor_desc(arg_of(op, 2, "weight")) else None
    b = low.leaf_arg(op, 3, "bias") if tensor_desc(arg_of(op, 3, "bias")) else None
    eps = float(arg_of(op, 4, "eps"))
    return low.add_node("layernorm", shape, operands={"x": x, "weight": w, "bias": b}, attrs={"eps": eps})


def softmax_any(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """softmax / log_softmax over any dim: softmax over the last dim takes the row kernels; otherwise one
    fused ``norm`` node (a row's max and sum of exponentials, then the output), else (a flipped
    operand) the chain: max, exp(x - max) once into a buffer, sum, then divide / log."""
    shape = tuple(shape)
    dim = norm_dim(int(arg_of(op, 1, "dim")), len(shape))
    if op["op"] in ("aten._softmax", "aten._safe_softmax") and dim == len(shape) - 1:
        return _softmax(low, op, index, out_index, shape)
    x = low.expr(low.tensor_arg(op, 0, "self"))
    fused = _fused_softmax(low, x, shape, dim, op["op"] != "aten._log_softmax")
    if fused is not None:
        return fused
    top = NodeE(reduce_node(low, x, shape, (dim,), True, "max").node)
    shifted = Bin("sub", x, top)
    if op["op"] in ("aten._softmax", "aten._safe_softmax"):
        e = as_node(low, Un("exp", shifted), shape)
        return Bin("div", e, NodeE(reduce_node(low, e, shape, (dim,), True, "sum").node))
    total = NodeE(reduce_node(low, Un("exp", shifted), shape, (dim,), True, "sum").node)
    return Bin("sub", shifted, Un("log", total))


def _fused_softmax(low: Lowering, x: Expr, shape: tuple[int, ...], dim: int, softmax: bool) -> NodeRef | None:
    """Softmax / log-softmax over ``dim`` as one ``norm`` node (the row's max and sum of exponentials,
    then the output); None for a flipped operand."""
    operand = low.operand(x, shape)
    if isinstance(operand, Leaf) and operand.flip:
        return None
    shifted = Bin("sub", Acc(), TOP)
    out = Bin("div", Un("exp", shifted), TOTAL) if softmax else Bin("sub", shifted, Un("log", TOTAL))
    attrs = {"stat": "logsumexp", "dims": (dim,), "rank": len(shape), "groups": None}
    return low.add_node("norm", shape, operands={"x": operand}, attrs=attrs, epilogue=out)


def _affine(y: Expr, weight: Leaf | None, bias: Leaf | None, trailing: int) -> Expr:
    """``y * weight + bias`` with per-channel parameters unsqueezed over ``trailing`` dims."""
    for leaf, kind in ((weight, "mul"), (bias, "add")):
        if leaf is None:
            continue
        for _ in range(trailing):
            leaf = leaf.view("unsqueeze", -1, shape=(*(leaf.shape or ()), 1))
        y = Bin(kind, y, LeafE(leaf))
    return y


def layer_norm_any(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    if out_index != 0:
        raise NoTemplate("layer norm statistics are used")
    if len(arg_of(op, 1, "normalized_shape")) == 1:
        return _layer_norm(low, op, index, out_index, shape)
    shape = tuple(shape)
    k = len(arg_of(op, 1, "normalized_shape"))
    dims = tuple(range(len(shape) - k, len(shape)))
    x = low.expr(low.tensor_arg(op, 0, "input"))
    w = low.leaf_arg(op, 2, "weight") if tensor_desc(arg_of(op, 2, "weight")) else None
    b = low.leaf_arg(op, 3, "bias") if tensor_desc(arg_of(op, 3, "bias")) else None
    return normalise(low, x, shape, dims, float(arg_of(op, 4, "eps")), w, b, 0)


def fused_norm(
    low: Lowering,
    x: Expr,
    shape: tuple[int, ...],
    dims: tuple[int, ...],
    eps: float,
    w: Any,
    b: Any,
    trailing: int,
    groups: int | None = None,
) -> NodeRef | None:
    """One ``norm`` node: ``(x - mean) * rsqrt(var + eps)`` over ``dims`` (with ``groups``: over each of
    ``groups`` equal parts of every sample's dims 1...), then the affine; None where the node cannot
    read the operand as it is (a flipped tensor, dims it cannot view)."""
    if not groups and not supported_dims(len(shape), dims):
        return None
    operand = low.operand(x, shape)
    if isinstance(operand, Leaf) and operand.flip:
        return None
    y = Bin("mul", Bin("sub", Acc(), MEAN), Un("rsqrt", Bin("add", VAR, Const(eps))))
    attrs = {"stat": "moments", "dims": dims, "rank": len(shape), "groups": groups}
    return low.add_node("norm", shape, operands={"x": operand}, attrs=attrs, epilogue=_affine(y, w, b, trailing))


def normalise(
    low: Lowering, x: Expr, shape: tuple[int, ...], dims: tuple[int, ...], eps: float, w: Any, b: Any, trailing: int
) -> Value:
    fused = fused_norm(low, x, shape, dims, eps, w, b, trailing)
    if fused is not None:
        return fused
    return unfused_normalise(low, x, shape, dims, eps, w, b, trailing)


def unfused_normalise(
    low: Lowering, x: Expr, shape: tuple[int, ...], dims: tuple[int, ...], eps: float, w: Any, b: Any, trailing: int
) -> Expr:
    """The generic chain: a mean, the deviation (materialised), its mean square, then the output."""
    mean = NodeE(reduce_node(low, x, shape, dims, True, "mean").node)
    dev = as_node(low, Bin("sub", x, mean), shape)
    var = NodeE(reduce_node(low, Bin("mul", dev, dev), shape, dims, True, "mean").node)
    y = Bin("mul", dev, Un("rsqrt", Bin("add", var, Const(eps))))
    return _affine(y, w, b, trailing)


def batch_norm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Batch norm: training (batch statistics over all dims but channels) or eval (running statistics)."""
    if out_index != 0:
        raise NoTemplate("batch norm statistics are used")
    name = op["op"]
    shape = tuple(shape)
    x = low.expr(low.tensor_arg(op, 0, "input"))
    w = low.leaf_arg(op, 1, "weight") if tensor_desc(arg_of(op, 1, "weight")) else None
    b = low.leaf_arg(op, 2, "bias") if tensor_desc(arg_of(op, 2, "bias")) else None
    if name == "aten._native_batch_norm_legit_no_training":
        training, eps = False, float(arg_of(op, 6, "eps"))
    else:
        training, eps = bool(arg_of(op, 5, "training")), float(arg_of(op, 7, "eps"))
    trailing = len(shape) - 2
    if training:
        dims = (0, *range(2, len(shape)))
        return normalise(low, x, shape, dims, eps, w, b, trailing)
    mean, var = low.leaf_arg(op, 3, "running_mean"), low.leaf_arg(op, 4, "running_var")
    centred = Bin("sub", x, _affine(LeafE(mean), None, None, 0) if trailing == 0 else _unsq(mean, trailing))
    y = Bin("mul", centred, Un("rsqrt", Bin("add", _unsq(var, trailing), Const(eps))))
    return _affine(y, w, b, trailing)


def _unsq(leaf: Leaf, trailing: int) -> Expr:
    for _ in range(trailing):
        leaf = leaf.view("unsqueeze", -1, shape=(*(leaf.shape or ()), 1))
    return LeafE(leaf)


def group_norm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Group norm: statistics over a (N, G, -1) view, normalised there, viewed back, then the affine."""
    if out_index != 0:
        raise NoTemplate("group norm statistics are used")
    shape = tuple(shape)
    groups, eps = int(arg_of(op, 6, "group")), float(arg_of(op, 7, "eps"))
    grouped = (shape[0], groups, prod_ints(shape[1:]) // groups)
    w = low.leaf_arg(op, 1, "weight") if tensor_desc(arg_of(op, 1, "weight")) else None
    b = low.leaf_arg(op, 2, "bias") if tensor_desc(arg_of(op, 2, "bias")) else None
    fused = fused_norm(
        low,
        low.expr(low.tensor_arg(op, 0, "input")),
        shape,
        tuple(range(1, len(shape))),
        eps,
        w,
        b,
        len(shape) - 2,
        groups,
    )
    if fused is not None:
        return fused
    x = low.operand(low.tensor_arg(op, 0, "input"), shape)
    first = _shape_code_of(x, 0)
    if isinstance(x, Leaf):
        if x.flip:
            raise NoTemplate("group norm of a flipped tensor")
        xg: Expr = LeafE(x.view("view", first, groups, -1, shape=grouped))
    else:
        xg = NodeE(
            low.add_node("view", grouped, operands={"x": x}, attrs={"method": "view", "args": (first, groups, -1)}).node
        )
    y = as_node(low, unfused_normalise(low, xg, grouped, (2,), eps, None, None, 0), grouped)
    back = low.add_node("view", shape, operands={"x": NodeRef(y.node)}, attrs={"method": "view_as", "args": (x,)})
    return _affine(NodeE(back.node), w, b, len(shape) - 2)


def _shape_code_of(x: Operand, dim: int) -> Any:
    def code(namer: Namer) -> str:
        return f"{{base}}.shape[{dim}]"

    return code
