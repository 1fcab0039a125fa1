"""Pointwise ops: unary and binary aten ops, GELU, clamps, powers, the activations that take
arguments and selections (``masked_fill``, ``where``), lowered to ``Expr`` trees fused into their
consumer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.template.ir import Bin, Const, Expr, Un, Where
from agents.template.lowering.common import NoTemplate, Value, arg_of, tensor_desc

if TYPE_CHECKING:
    from agents.template.recognise import Lowering


UNARY = {
    "aten.neg": "neg",
    "aten.relu": "relu",
    "aten.sigmoid": "sigmoid",
    "aten.silu": "silu",
    "aten.tanh": "tanh",
    "aten.exp": "exp",
    "aten.sqrt": "sqrt",
    "aten.rsqrt": "rsqrt",
    "aten.abs": "abs",
    "aten.log": "log",
    "aten.sin": "sin",
    "aten.cos": "cos",
    "aten.erf": "erf",
    "aten.floor": "floor",
    "aten.ceil": "ceil",
    "aten.reciprocal": "reciprocal",
    "aten.trunc": "trunc",
    "aten.sign": "sign",
    "aten.sgn": "sign",
    "aten.hardsigmoid": "hardsigmoid",
    "aten.hardswish": "hardswish",
    "aten.mish": "mish",
}


BINARY = {
    "aten.add": "add",
    "aten.sub": "sub",
    "aten.mul": "mul",
    "aten.div": "div",
    "aten.maximum": "max",
    "aten.minimum": "min",
    "aten.xlogy": "xlogy",
    "aten.gt": "gt",
    "aten.lt": "lt",
    "aten.ge": "ge",
    "aten.le": "le",
    "aten.eq": "eq",
    "aten.ne": "ne",
}


def scalar_or_expr(low: Lowering, arg: Any) -> Expr:
    """A scalar operand as a ``Const``, a tensor operand as its ``Expr``."""
    if tensor_desc(arg):
        return low.expr(low.value(arg["tensor"], arg))
    if isinstance(arg, bool) or not isinstance(arg, int | float):
        raise NoTemplate(f"unsupported scalar operand {arg!r}")
    return Const(float(arg))


def pointwise(low: Lowering, op: dict[str, Any], name: str, shape: Any) -> Expr:
    """A unary or binary aten op (``UNARY``, ``BINARY``) as an ``Expr``."""
    if name in UNARY:
        return Un(UNARY[name], low.expr(low.tensor_arg(op, 0, "self")))
    a = scalar_or_expr(low, arg_of(op, 0, "self"))
    b = scalar_or_expr(low, arg_of(op, 1, "other"))
    alpha = op.get("kwargs", {}).get("alpha", arg_of(op, 2, "alpha", 1))
    if name in ("aten.add", "aten.sub") and alpha not in (1, 1.0, None):
        b = Bin("mul", b, Const(float(alpha)))
    if name == "aten.div" and op.get("kwargs", {}).get("rounding_mode") is not None:
        raise NoTemplate("division with a rounding mode")
    return Bin(BINARY[name], a, b)


def gelu(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    approximate = op.get("kwargs", {}).get("approximate", arg_of(op, 1, "approximate", "none"))
    return Un("gelu_tanh" if approximate == "tanh" else "gelu", low.expr(low.tensor_arg(op, 0, "self")))


def clamp(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    x = low.expr(low.tensor_arg(op, 0, "self"))
    name = op["op"]
    lo = arg_of(op, 1, "min") if name in ("aten.clamp", "aten.clamp_min") else None
    hi = arg_of(op, 2, "max") if name == "aten.clamp" else (arg_of(op, 1, "max") if name == "aten.clamp_max" else None)
    if lo is not None:
        x = Bin("max", x, Const(float(lo)))
    if hi is not None:
        x = Bin("min", x, Const(float(hi)))
    return x


def pow_op(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    base, exponent = arg_of(op, 0, "self"), arg_of(op, 1, "exponent")
    if not tensor_desc(base):
        return Bin("pow", scalar_or_expr(low, base), scalar_or_expr(low, exponent))
    x = low.expr(low.tensor_arg(op, 0, "self"))
    if tensor_desc(exponent):
        return Bin("pow", x, scalar_or_expr(low, exponent))
    return power(x, exponent)


def power(x: Expr, exponent: Any) -> Expr:
    if isinstance(exponent, bool) or not isinstance(exponent, int | float):
        raise NoTemplate(f"pow with exponent {exponent!r}")
    if float(exponent).is_integer() and 0 <= exponent <= 4:
        out: Expr = Const(1.0)
        for k in range(int(exponent)):
            out = x if k == 0 else Bin("mul", out, x)
        return out
    if float(exponent).is_integer() and -4 <= exponent < 0:
        return Un("reciprocal", power(x, -exponent))
    if exponent == 0.5:
        return Un("sqrt", x)
    if exponent == -0.5:
        return Un("rsqrt", x)
    return Un("pow_scalar", x, (float(exponent),))


def unary_args(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Activations with scalar arguments (LeakyReLU, ELU/SELU, Softplus, Hardtanh) and rsub."""
    name = op["op"]
    x = low.expr(low.tensor_arg(op, 0, "self"))
    if name == "aten.leaky_relu":
        return Un("leaky_relu", x, (float(arg_of(op, 1, "negative_slope", 0.01)),))
    if name == "aten.elu":
        names = ((1, "alpha"), (2, "scale"), (3, "input_scale"))
        return Un("elu", x, tuple(float(arg_of(op, i, n, 1.0)) for i, n in names))
    if name == "aten.softplus":
        return Un("softplus", x, (float(arg_of(op, 1, "beta", 1.0)), float(arg_of(op, 2, "threshold", 20.0))))
    if name == "aten.hardtanh":
        lo, hi = float(arg_of(op, 1, "min_val", -1.0)), float(arg_of(op, 2, "max_val", 1.0))
        return Bin("min", Bin("max", x, Const(lo)), Const(hi))
    if name == "aten.round":
        if op.get("kwargs", {}).get("decimals", arg_of(op, 1, "decimals", 0)):
            raise NoTemplate("round to decimals")
        return Un("round", x)
    if name == "aten.rsub":
        other = scalar_or_expr(low, arg_of(op, 1, "other"))
        alpha = float(op.get("kwargs", {}).get("alpha", arg_of(op, 2, "alpha", 1)))
        return Bin("sub", other, x if alpha == 1 else Bin("mul", x, Const(alpha)))
    raise NoTemplate(f"no template for `{name}`")  # pragma: no cover


def masked_fill(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """``x.masked_fill(mask, value)``: ``value`` (a scalar, ±inf included, or a 0-dim tensor) where the
    boolean ``mask`` (broadcast to ``x``) is set, ``x`` elsewhere."""
    x = low.expr(low.tensor_arg(op, 0, "self"))
    mask_arg = arg_of(op, 1, "mask")
    if not tensor_desc(mask_arg) or mask_arg.get("dtype") != "bool":
        raise NoTemplate("masked_fill with a mask that is not a bool tensor")
    value = arg_of(op, 2, "value")
    if tensor_desc(value) and list(value.get("shape", [])):
        raise NoTemplate("masked_fill with a value tensor that is not 0-dimensional")
    return Where(low.expr(low.value(mask_arg["tensor"], mask_arg)), scalar_or_expr(low, value), x)


def where(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """``torch.where(condition, a, b)`` with a boolean condition; ``a`` and ``b`` tensors or scalars."""
    cond = arg_of(op, 0, "condition")
    if len(op.get("args", [])) < 3 or not tensor_desc(cond) or cond.get("dtype") != "bool":
        raise NoTemplate("where without a bool condition and both branches")
    a, b = scalar_or_expr(low, arg_of(op, 1, "self")), scalar_or_expr(low, arg_of(op, 2, "other"))
    return Where(low.expr(low.value(cond["tensor"], cond)), a, b)


def scalar_tensor(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """``torch.scalar_tensor(c)``: a 0-dim constant (autograd's decomposed ``threshold_backward``:
    ``where(x <= 0, scalar_tensor(0), grad)``), a constant of the expression."""
    value = arg_of(op, 0, "s")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NoTemplate(f"scalar_tensor of {value!r}")
    return Const(float(value))


def logical(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """``bitwise_and`` / ``bitwise_or`` of two boolean tensors (autograd's decomposed hardtanh and
    hardsigmoid backward masks): comparisons are 1.0 / 0.0 in an expression, so ``and`` is their product
    and ``or`` their maximum. Integer bitwise ops are not lowered."""
    a, b = arg_of(op, 0, "self"), arg_of(op, 1, "other")
    if not (tensor_desc(a) and tensor_desc(b) and a.get("dtype") == b.get("dtype") == "bool"):
        raise NoTemplate(f"{op['op']} of operands that are not both bool tensors")
    which = "mul" if op["op"] == "aten.bitwise_and" else "max"
    return Bin(which, low.expr(low.value(a["tensor"], a)), low.expr(low.value(b["tensor"], b)))
