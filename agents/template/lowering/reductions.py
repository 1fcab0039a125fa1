"""Reductions and scans over any dims: sum, mean, max/min, argmax/argmin, prod, var/std, vector
norms, losses (MSE, L1, smooth L1, Huber, NLL), cumsum/cumprod and logsumexp."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.template.ir import Bin, Const, Expr, Leaf, LeafE, NodeE, NodeRef, Un
from agents.template.lowering.common import NoTemplate, Value, arg_of, input_shape, norm_dim, tensor_desc
from agents.template.lowering.pointwise import power, scalar_or_expr

if TYPE_CHECKING:
    from agents.template.recognise import Lowering


def _dims(dim: Any, rank: int) -> tuple[int, ...]:
    """A reduction's dims: an int, a list, or None / [] for all dims."""
    if dim is None or (isinstance(dim, list | tuple) and not dim):
        return tuple(range(rank))
    if isinstance(dim, int):
        dim = [dim]
    return tuple(sorted({norm_dim(int(d), rank) for d in dim}))


def _reduced_shape(shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool) -> tuple[int, ...]:
    return tuple((1 if d in dims else n) for d, n in enumerate(shape) if keepdim or d not in dims)


def reduce_node(
    low: Lowering, x: Value, in_shape: Any, dims: tuple[int, ...], keepdim: bool, op: str, correction: float = 0.0
) -> NodeRef:
    """A reduce node over ``dims`` of ``x`` (an expression is materialised first)."""
    in_shape = tuple(in_shape)
    operand = low.operand(x, in_shape)
    if isinstance(operand, Leaf) and operand.flip:
        raise NoTemplate("a reduction of a flipped tensor")
    attrs = {"op": op, "dims": dims, "keepdim": keepdim, "rank": len(in_shape), "correction": correction}
    return low.add_node("reduce", _reduced_shape(in_shape, dims, keepdim), operands={"x": operand}, attrs=attrs)


def as_node(low: Lowering, expr: Expr, shape: Any) -> Expr:
    """``expr`` computed once into a buffer (it is read by several kernels)."""
    return NodeE(low.operand(expr, tuple(shape)).node)  # type: ignore[union-attr]


def sum_mean(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    name = op["op"]
    in_shape = input_shape(op)
    dims = _dims(arg_of(op, 1, "dim"), len(in_shape))
    keepdim = bool(arg_of(op, 2, "keepdim", False))
    x = low.tensor_arg(op, 0, "self")
    return reduce_node(low, x, in_shape, dims, keepdim, "sum" if name in ("aten.sum", "aten.nansum") else "mean")


def max_min(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    name = op["op"]
    kind = "max" if name in ("aten.max", "aten.amax") else "min"
    second = arg_of(op, 1, "dim" if name in ("aten.amax", "aten.amin") else "other")
    if tensor_desc(second):  # torch.max(a, b): elementwise
        return Bin(kind, low.expr(low.tensor_arg(op, 0, "self")), scalar_or_expr(low, second))
    if out_index:
        raise NoTemplate(f"{name} indices are used")
    in_shape = input_shape(op)
    dims = _dims(arg_of(op, 1, "dim"), len(in_shape))
    keepdim = bool(arg_of(op, 2, "keepdim", False))
    return reduce_node(low, low.tensor_arg(op, 0, "self"), in_shape, dims, keepdim, kind)


def arg_reduce(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    in_shape = input_shape(op)
    dim = arg_of(op, 1, "dim")
    keepdim = bool(arg_of(op, 2, "keepdim", False))
    if dim is None and len(in_shape) > 1:
        raise NoTemplate(f"{op['op']} over the flattened tensor")
    dims = _dims(dim, len(in_shape))
    return reduce_node(low, low.tensor_arg(op, 0, "self"), in_shape, dims, keepdim, op["op"].split(".")[1])


def prod_reduce(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    in_shape = input_shape(op)
    dims = _dims(arg_of(op, 1, "dim"), len(in_shape))
    keepdim = bool(arg_of(op, 2, "keepdim", False))
    return reduce_node(low, low.tensor_arg(op, 0, "self"), in_shape, dims, keepdim, "prod")


def var_std(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """var / std: mean, then the mean of squared deviations with Bessel's correction (``correction``)."""
    in_shape = input_shape(op)
    dims = _dims(arg_of(op, 1, "dim"), len(in_shape))
    kwargs = op.get("kwargs", {})
    correction = kwargs.get("correction", 1)
    if "unbiased" in kwargs:
        correction = 1 if kwargs["unbiased"] else 0
    correction = 1.0 if correction is None else float(correction)
    keepdim = bool(kwargs.get("keepdim", arg_of(op, 2, "keepdim", False)))
    x = low.expr(low.tensor_arg(op, 0, "self"))
    var = _variance(low, x, in_shape, dims, keepdim, correction)
    return Un("sqrt", var) if op["op"] == "aten.std" else var


def _variance(low: Lowering, x: Expr, in_shape: Any, dims: tuple[int, ...], keepdim: bool, correction: float) -> Expr:
    mean = NodeE(reduce_node(low, x, in_shape, dims, True, "mean").node)
    dev = as_node(low, Bin("sub", x, mean), in_shape)
    return NodeE(reduce_node(low, Bin("mul", dev, dev), in_shape, dims, keepdim, "mean", correction).node)


def vector_norm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """linalg_vector_norm / norm: sum of |x|^p, then its 1/p-th power (inf: max |x|)."""
    in_shape = input_shape(op)
    name = op["op"]
    if name == "aten.norm":
        p, dim, keepdim = arg_of(op, 1, "p", 2), arg_of(op, 2, "dim"), bool(arg_of(op, 3, "keepdim", False))
    else:
        p, dim, keepdim = arg_of(op, 1, "ord", 2), arg_of(op, 2, "dim"), bool(arg_of(op, 3, "keepdim", False))
    if op.get("kwargs", {}).get("dtype") is not None:
        raise NoTemplate(f"{name} with a dtype")
    p = 2.0 if p is None else float(p)
    dims = _dims(dim, len(in_shape))
    x = Un("abs", low.expr(low.tensor_arg(op, 0, "self")))
    if p == float("inf"):
        return reduce_node(low, x, in_shape, dims, keepdim, "max")
    if p <= 0:
        raise NoTemplate(f"{name} of order {p}")
    total = NodeE(reduce_node(low, power(x, p), in_shape, dims, keepdim, "sum").node)
    if p == 1:
        return total
    return Un("sqrt", total) if p == 2 else power(total, 1.0 / p)


def loss(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Pointwise losses (MSE, L1, smooth L1, Huber) and their reduction (0 none, 1 mean, 2 sum)."""
    name = op["op"]
    a = low.expr(low.tensor_arg(op, 0, "self"))
    b = scalar_or_expr(low, arg_of(op, 1, "target"))
    in_shape = tuple(shape) if not arg_of(op, 2, "reduction", 1) else input_shape(op)
    d = Bin("sub", a, b)
    if name == "aten.mse_loss":
        each: Expr = Bin("mul", d, d)
    elif name == "aten.l1_loss":
        each = Un("abs", d)
    elif name == "aten.smooth_l1_loss":
        beta = float(arg_of(op, 3, "beta", 1.0))
        each = Un("smooth_l1", d, (beta,)) if beta > 0 else Un("abs", d)
    else:
        each = Un("huber", d, (float(arg_of(op, 3, "delta", 1.0)),))
    reduction = int(arg_of(op, 2, "reduction", 1))
    if reduction == 0:
        return each
    dims = tuple(range(len(in_shape)))
    return reduce_node(low, each, in_shape, dims, False, "mean" if reduction == 1 else "sum")


def nll_loss(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """nll_loss (cross entropy is log_softmax + nll_loss): each sample's -x[i, target[i]] by a pick
    node, then none / mean over the samples not ignored / sum."""
    if out_index:
        raise NoTemplate("nll_loss's total weight is used")
    if tensor_desc(arg_of(op, 2, "weight")):
        raise NoTemplate("nll_loss with class weights")
    in_shape = input_shape(op)
    if len(in_shape) != 2:
        raise NoTemplate(f"nll_loss of a rank-{len(in_shape)} input")
    reduction, ignore = int(arg_of(op, 3, "reduction", 1)), int(arg_of(op, 4, "ignore_index", -100))
    logits = _log_softmax_input(low, op)
    if logits is not None:  # cross entropy: logsumexp(x_i) - x[i, t_i] a row, no log-softmax matrix written
        target = low.leaf_arg(op, 1, "target")
        x = low.operand(logits, in_shape)
        if (isinstance(x, Leaf) and x.flip) or target.flip:
            raise NoTemplate("nll_loss of a flipped tensor")
        lse = reduce_node(low, x, in_shape, (1,), False, "logsumexp")
        pick = low.add_node("pick", (in_shape[0],), operands={"x": x, "target": target}, attrs={"ignore_index": ignore})
        kept = Bin("ne", LeafE(target), Const(float(ignore)))
        picked: Value = low.operand(Bin("add", NodeE(pick.node), Bin("mul", NodeE(lse.node), kept)), (in_shape[0],))
    else:
        x = low.operand(low.tensor_arg(op, 0, "self"), in_shape)
        target = low.leaf_arg(op, 1, "target")
        if (isinstance(x, Leaf) and x.flip) or target.flip:
            raise NoTemplate("nll_loss of a flipped tensor")
        picked = low.add_node(
            "pick", (in_shape[0],), operands={"x": x, "target": target}, attrs={"ignore_index": ignore}
        )
    if reduction == 0:
        return picked
    total = NodeE(reduce_node(low, NodeE(picked.node), (in_shape[0],), (0,), False, "sum").node)
    if reduction == 2:
        return total
    kept = Bin("ne", LeafE(target), Const(float(ignore)))
    return Bin("div", total, NodeE(reduce_node(low, kept, (in_shape[0],), (0,), False, "sum").node))


def _log_softmax_input(low: Lowering, op: dict[str, Any]) -> Value | None:
    """The logits when nll_loss's input is ``log_softmax(logits, dim=1)`` of a 2D tensor read by nothing
    else (cross entropy), else None (the log-softmax is then lowered as it is)."""
    arg = arg_of(op, 0, "self")
    found = low.producer.get(arg["tensor"]) if tensor_desc(arg) else None
    if found is None or arg["tensor"] in low.memo:
        return None
    producer = low.ops[found[0]]
    if producer["op"] != "aten._log_softmax" or found[1] != 0 or len(arg.get("shape", ())) != 2:
        return None
    if norm_dim(int(arg_of(producer, 1, "dim")), 2) != 1 or _readers(low, arg["tensor"]) != 1:
        return None
    return low.tensor_arg(producer, 0, "self")


def _readers(low: Lowering, label: str) -> int:
    """How many traced ops read the tensor ``label`` (as a direct argument)."""

    def reads(value: Any) -> bool:
        if isinstance(value, dict):
            return value.get("tensor") == label
        if isinstance(value, list | tuple):
            return any(reads(v) for v in value)
        return False

    outputs = [o.get("tensor") for o in low.trace.outputs if isinstance(o, dict)]
    count = sum(1 for o in low.ops if reads(o.get("args", [])) or reads(list(o.get("kwargs", {}).values())))
    return count + outputs.count(label)


def scan(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any, reverse: bool = False) -> Value:
    if op.get("kwargs", {}).get("dtype") is not None:
        raise NoTemplate(f"{op['op']} with a dtype")
    in_shape = input_shape(op)
    dim = norm_dim(int(arg_of(op, 1, "dim")), max(1, len(in_shape)))
    x = low.tensor_arg(op, 0, "self")
    if reverse:
        x = _unflip(x, dim - len(in_shape))
    operand = low.operand(x, in_shape)
    if isinstance(operand, Leaf) and operand.flip:
        raise NoTemplate("a cumulative op over a flipped tensor")
    attrs = {"op": "sum" if op["op"] == "aten.cumsum" else "prod", "dims": (dim,), "rank": len(in_shape)}
    return low.add_node("scan", shape, operands={"x": operand}, attrs={**attrs, "reverse": reverse})


def _unflip(val: Value, dim: int) -> Value:
    if isinstance(val, LeafE):
        val = val.leaf
    if not isinstance(val, Leaf) or val.flip != (dim,):
        raise NoTemplate("flip of a computed tensor")
    return Leaf(val.root, val.views, val.shape, val.dtype, ())


def cumsum(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    return scan(low, op, index, out_index, shape)


def logsumexp(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """log(sum(exp(x - max))) + max over any dims (the max kept for the shift, reduced again if not kept)."""
    in_shape = input_shape(op)
    dims = _dims(arg_of(op, 1, "dim"), len(in_shape))
    keepdim = bool(arg_of(op, 2, "keepdim", False))
    x = low.expr(low.tensor_arg(op, 0, "self"))
    top = NodeE(reduce_node(low, x, in_shape, dims, True, "max").node)
    total = NodeE(reduce_node(low, Un("exp", Bin("sub", x, top)), in_shape, dims, keepdim, "sum").node)
    shift = top if keepdim else NodeE(reduce_node(low, x, in_shape, dims, False, "max").node)
    return Bin("add", Un("log", total), shift)
