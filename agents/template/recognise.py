"""Recognise a reference op from its sandboxed aten trace and lower it to a ``Program``.

The trace (``verifier.trace_reference``) lists the aten ops the reference's forward dispatched, with
data-flow labels (``inputN``, ``param:<name>``, ``opK.outJ``). Lowering starts at the output and walks
back through producers:

* inputs and parameters, through shape-agnostic views (unsqueeze, transpose, permute, narrow,
  split pieces), become ``Leaf`` s the candidate's forward names directly;
* pointwise ops (add, mul, div, gelu, sigmoid, casts...) become an ``Expr``;
* anchors become kernel nodes: depthwise convolutions 1D/2D (any kernel size, stride, dilation and
  padding, a zero pad op folded in, a flipped weight read reversed), 1x1 convolutions, the FFT
  causal-convolution pattern (rfft(pad(u)) * rfft(pad(k)) -> irfft -> [:L], lowered to a 1D
  causal depthwise convolution node marked ``fft``; the emitter computes it with Triton FFT kernels
  for long filters and a direct sum for short ones, never with ``torch.fft``), mm/addmm, CSR
  sparse x dense, softmax, layer norm, and channel concatenation.

Anything else raises ``NoTemplate`` naming the op, so no kernel is guessed for an op it does not know.
Sizes that vary between shapes are not copied from the trace where a rule explains them: 'same' and
causal paddings follow the kernel size at run time, split sizes follow the convolutions consuming
the pieces.
"""

from __future__ import annotations

from typing import Any

from agents.template.ir import (
    Acc,
    Bin,
    Branch,
    Const,
    Expr,
    Leaf,
    LeafE,
    Namer,
    Node,
    NodeE,
    NodeRef,
    Operand,
    Program,
    Un,
)
from agents.template.optimise import optimise

FLOAT_DTYPES = ("float32", "float64", "float16", "bfloat16")


class NoTemplate(Exception):
    """The op is not one the template compiler has a kernel for (the message says why)."""


Value = Leaf | Expr | NodeRef | list  # list: the outputs of a split


def _t(arg: Any) -> dict[str, Any] | None:
    return arg if isinstance(arg, dict) and "tensor" in arg else None


def _arg(op: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    args = op.get("args", [])
    if index < len(args):
        return args[index]
    return op.get("kwargs", {}).get(name, default)


def _norm_dim(dim: int, rank: int) -> int:
    return dim + rank if dim < 0 else dim


_IDENTITY_OPS = {"aten.alias", "aten.detach", "aten.clone", "aten.contiguous", "aten.lift_fresh", "aten.expand"}
_UNARY = {
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
    "aten.hardsigmoid": "hardsigmoid",
    "aten.hardswish": "hardswish",
    "aten.mish": "mish",
}
_BINARY = {
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


class Lowering:
    """Walks one trace from its output back to inputs and parameters, building nodes as it goes."""

    def __init__(self, trace: Any, input_names: list[str]) -> None:
        self.ops: list[dict[str, Any]] = trace.ops
        self.trace = trace
        self.input_names = input_names
        self.producer: dict[str, tuple[int, int]] = {}
        for i, op in enumerate(self.ops):
            for j, out in enumerate(op.get("outputs", [])):
                if _t(out):
                    self.producer[out["tensor"]] = (i, j)
        self.nodes: list[Node] = []
        self.memo: dict[str, Value] = {}
        self.materialised: dict[int, NodeRef] = {}

    # -- entry ----------------------------------------------------------------------------------
    def program(self, family_hint: str = "") -> Program:
        if self.trace.truncated:
            raise NoTemplate("the trace was truncated (too many ops)")
        outs = self.trace.outputs
        if len(outs) != 1 or not _t(outs[0]):
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
            if _t(d) and d.get("dtype") == dtype and dtype in FLOAT_DTYPES
        ]
        same_rank = [leaf for leaf in found if leaf.rank == rank]
        return (same_rank or found or [None])[0]

    def _family(self) -> str:
        kinds = [n.kind for n in self.nodes]
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
        shape = tuple(out["shape"]) if _t(out) else None
        if out_index and name not in ("aten.split_with_sizes", "aten.split", "aten.native_layer_norm"):
            raise NoTemplate(f"{name} output {out_index} is used; only its first output is understood")
        if out.get("dtype", "").startswith("complex") and name != "aten._fft_c2r":
            raise NoTemplate(f"complex intermediate from {name} outside the FFT convolution pattern")
        handler = _HANDLERS.get(name)
        if handler is None:
            if name in _UNARY or name in _BINARY:
                return self._pointwise(op, name, shape)
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
        arg = _arg(op, index, name)
        if not _t(arg):
            raise NoTemplate(f"{op['op']}: argument {name} is not a tensor")
        return self.value(arg["tensor"], arg)

    def leaf_arg(self, op: dict[str, Any], index: int, name: str) -> Leaf:
        val = self.tensor_arg(op, index, name)
        if isinstance(val, LeafE):
            val = val.leaf
        if not isinstance(val, Leaf):
            raise NoTemplate(f"{op['op']}: {name} must be an input or parameter (it is computed)")
        return val

    # -- pointwise ------------------------------------------------------------------------------
    def _scalar_or_expr(self, arg: Any) -> Expr:
        if _t(arg):
            return self.expr(self.value(arg["tensor"], arg))
        if isinstance(arg, bool) or not isinstance(arg, int | float):
            raise NoTemplate(f"unsupported scalar operand {arg!r}")
        return Const(float(arg))

    def _pointwise(self, op: dict[str, Any], name: str, shape: Any) -> Expr:
        if name in _UNARY:
            return Un(_UNARY[name], self.expr(self.tensor_arg(op, 0, "self")))
        a = self._scalar_or_expr(_arg(op, 0, "self"))
        b = self._scalar_or_expr(_arg(op, 1, "other"))
        alpha = op.get("kwargs", {}).get("alpha", _arg(op, 2, "alpha", 1))
        if name in ("aten.add", "aten.sub") and alpha not in (1, 1.0, None):
            b = Bin("mul", b, Const(float(alpha)))
        if name == "aten.div" and op.get("kwargs", {}).get("rounding_mode") is not None:
            raise NoTemplate("division with a rounding mode")
        return Bin(_BINARY[name], a, b)


# -- handlers ------------------------------------------------------------------------------------


def _identity(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    val = low.tensor_arg(op, 0, "self")
    if isinstance(val, Leaf) and shape is not None:
        return Leaf(val.root, val.views, shape, val.dtype, val.flip)
    return val


def _to_copy(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    val = low.tensor_arg(op, 0, "self")
    dtype = op.get("kwargs", {}).get("dtype")
    if dtype is None or dtype in ("float32", "float64"):
        return val  # kernels compute in float32 already
    if dtype in ("float16", "bfloat16"):
        return Un("cast", low.expr(val), (dtype,))
    raise NoTemplate(f"cast to {dtype}")


def _view(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Shape-agnostic views of an input or parameter, replayed in the candidate's forward."""
    name = op["op"]
    val = low.tensor_arg(op, 0, "self")
    if isinstance(val, LeafE):
        val = val.leaf
    if not isinstance(val, Leaf):
        if name in ("aten.unsqueeze",) and isinstance(val, Expr) and shape is not None:
            # Broadcasting handles an added size-1 dim of an elementwise value only at the front.
            dim = _norm_dim(int(_arg(op, 1, "dim")), len(shape))
            if dim == 0:
                return val
        if name in ("aten.squeeze", "aten.unsqueeze", "aten.transpose", "aten.permute", "aten.t"):
            return _node_view(low, op, val, shape)
        raise NoTemplate(f"{name} of a computed tensor")
    if name == "aten.unsqueeze":
        if val.flip and _norm_dim(int(_arg(op, 1, "dim")), len(shape)) == len(shape) - 1:
            raise NoTemplate("unsqueeze after a flip on the last dim")
        return val.view("unsqueeze", int(_arg(op, 1, "dim")), shape=shape)
    if val.flip:
        raise NoTemplate(f"{name} after a flip")
    if name == "aten.squeeze":
        dim = _arg(op, 1, "dim")
        if dim is None or isinstance(dim, list):
            raise NoTemplate("squeeze without a single dim")
        return val.view("squeeze", int(dim), shape=shape)
    if name == "aten.t":
        return val.view("t", shape=shape)
    if name == "aten.transpose":
        return val.view("transpose", int(_arg(op, 1, "dim0")), int(_arg(op, 2, "dim1")), shape=shape)
    if name == "aten.permute":
        return val.view("permute", *[int(d) for d in _arg(op, 1, "dims")], shape=shape)
    if name == "aten.select":
        return val.view("select", int(_arg(op, 1, "dim")), int(_arg(op, 2, "index")), shape=shape)
    if name == "aten.slice":
        return _slice_leaf(val, op, shape)
    raise NoTemplate(f"no template for `{name}`")


def _slice_leaf(val: Leaf, op: dict[str, Any], shape: Any) -> Leaf:
    rank = val.rank or 0
    dim = _norm_dim(int(_arg(op, 1, "dim", 0)), rank)
    start = _arg(op, 2, "start", 0) or 0
    end = _arg(op, 3, "end", None)
    step = _arg(op, 4, "step", 1)
    if step != 1 or start < 0:
        raise NoTemplate("strided or negative slice")
    size = val.shape[dim] if val.shape else None
    if end is None or (size is not None and end >= size):
        return val.view("narrow", dim, start, _rest(dim, start), shape=shape)
    return val.view("narrow", dim, start, end - start, shape=shape)


def _rest(dim: int, start: int) -> Any:
    def code(namer: Namer, _dim: int = dim, _start: int = start) -> str:
        return f"{{base}}.shape[{_dim}] - {_start}"

    return code


def _flip(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    val = low.tensor_arg(op, 0, "self")
    if isinstance(val, LeafE):
        val = val.leaf
    if not isinstance(val, Leaf) or val.rank is None:
        raise NoTemplate("flip of a computed tensor")
    dims = tuple(sorted({_norm_dim(int(d), val.rank) - val.rank for d in _arg(op, 1, "dims")}))
    return Leaf(val.root, val.views, val.shape, val.dtype, tuple(sorted(set(val.flip) ^ set(dims))))


def _gelu(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    approximate = op.get("kwargs", {}).get("approximate", _arg(op, 1, "approximate", "none"))
    return Un("gelu_tanh" if approximate == "tanh" else "gelu", low.expr(low.tensor_arg(op, 0, "self")))


def _clamp(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    x = low.expr(low.tensor_arg(op, 0, "self"))
    name = op["op"]
    lo = _arg(op, 1, "min") if name in ("aten.clamp", "aten.clamp_min") else None
    hi = _arg(op, 2, "max") if name == "aten.clamp" else (_arg(op, 1, "max") if name == "aten.clamp_max" else None)
    if lo is not None:
        x = Bin("max", x, Const(float(lo)))
    if hi is not None:
        x = Bin("min", x, Const(float(hi)))
    return x


def _pow(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    base, exponent = _arg(op, 0, "self"), _arg(op, 1, "exponent")
    if not _t(base):
        return Bin("pow", low._scalar_or_expr(base), low._scalar_or_expr(exponent))
    x = low.expr(low.tensor_arg(op, 0, "self"))
    if _t(exponent):
        return Bin("pow", x, low._scalar_or_expr(exponent))
    return _power(x, exponent)


def _power(x: Expr, exponent: Any) -> Expr:
    if isinstance(exponent, bool) or not isinstance(exponent, int | float):
        raise NoTemplate(f"pow with exponent {exponent!r}")
    if float(exponent).is_integer() and 0 <= exponent <= 4:
        out: Expr = Const(1.0)
        for k in range(int(exponent)):
            out = x if k == 0 else Bin("mul", out, x)
        return out
    if float(exponent).is_integer() and -4 <= exponent < 0:
        return Un("reciprocal", _power(x, -exponent))
    if exponent == 0.5:
        return Un("sqrt", x)
    if exponent == -0.5:
        return Un("rsqrt", x)
    return Un("pow_scalar", x, (float(exponent),))


def _unary_args(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Activations with scalar arguments (LeakyReLU, ELU/SELU, Softplus, Hardtanh) and rsub."""
    name = op["op"]
    x = low.expr(low.tensor_arg(op, 0, "self"))
    if name == "aten.leaky_relu":
        return Un("leaky_relu", x, (float(_arg(op, 1, "negative_slope", 0.01)),))
    if name == "aten.elu":
        names = ((1, "alpha"), (2, "scale"), (3, "input_scale"))
        return Un("elu", x, tuple(float(_arg(op, i, n, 1.0)) for i, n in names))
    if name == "aten.softplus":
        return Un("softplus", x, (float(_arg(op, 1, "beta", 1.0)), float(_arg(op, 2, "threshold", 20.0))))
    if name == "aten.hardtanh":
        lo, hi = float(_arg(op, 1, "min_val", -1.0)), float(_arg(op, 2, "max_val", 1.0))
        return Bin("min", Bin("max", x, Const(lo)), Const(hi))
    if name == "aten.round":
        if op.get("kwargs", {}).get("decimals", _arg(op, 1, "decimals", 0)):
            raise NoTemplate("round to decimals")
        return Un("round", x)
    if name == "aten.rsub":
        other = low._scalar_or_expr(_arg(op, 1, "other"))
        alpha = float(op.get("kwargs", {}).get("alpha", _arg(op, 2, "alpha", 1)))
        return Bin("sub", other, x if alpha == 1 else Bin("mul", x, Const(alpha)))
    raise NoTemplate(f"no template for `{name}`")  # pragma: no cover


def _padding_rule(left: int, right: int, kernel: int, dilation: int, stride: int) -> tuple[str, int, int]:
    span = dilation * (kernel - 1)
    if stride == 1 and left == right == span // 2 and span % 2 == 0:
        return ("same", left, right)
    if left == span and right == 0 and span > 0:
        return ("causal", left, right)
    if left == right == 0:
        return ("valid", 0, 0)
    return ("const", left, right)


def _convolution(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    x_desc, w_desc = _arg(op, 0, "input"), _arg(op, 1, "weight")
    stride, padding, dilation = list(_arg(op, 3, "stride")), list(_arg(op, 4, "padding")), list(_arg(op, 5, "dilation"))
    transposed, groups = bool(_arg(op, 6, "transposed")), int(_arg(op, 8, "groups"))
    rank = len(x_desc["shape"])
    if rank not in (3, 4, 5):
        raise NoTemplate(f"convolution of a rank-{rank} input")
    spatial = rank - 2
    c_in, c_out = x_desc["shape"][1], w_desc["shape"][0]
    kernel = list(w_desc["shape"][2:])
    pads_left, pads_right = list(padding), list(padding)
    x_label = x_desc["tensor"]
    producer = low.producer.get(x_label)
    if transposed:
        return _transposed_convolution(low, op, shape, spatial, kernel, groups)
    if producer is not None and low.ops[producer[0]]["op"] == "aten.constant_pad_nd":
        pad_op = low.ops[producer[0]]
        pad = list(_arg(pad_op, 1, "pad"))
        if (_arg(pad_op, 2, "value", 0) or 0) != 0:
            raise NoTemplate("non-zero constant padding")
        pad += [0] * (2 * rank - len(pad))
        for d in range(spatial):  # pad lists (left, right) from the last dim backwards
            pads_left[spatial - 1 - d] += pad[2 * d]
            pads_right[spatial - 1 - d] += pad[2 * d + 1]
        if any(pad[2 * d] or pad[2 * d + 1] for d in range(spatial, rank)):
            raise NoTemplate("padding of batch or channel dims")
        x_desc = _arg(pad_op, 0, "self")
    x = low.operand(low.value(x_desc["tensor"], x_desc), x_desc["shape"])
    weight = low.leaf_arg(op, 1, "weight")
    if weight.flip and any(d < -spatial for d in weight.flip):
        raise NoTemplate("flipped channel dims of a convolution weight")
    bias_desc = _arg(op, 2, "bias")
    bias = low.leaf_arg(op, 2, "bias") if _t(bias_desc) else None
    if groups == c_in == c_out and w_desc["shape"][1] == 1 and rank < 5:
        rules = tuple(
            _padding_rule(pads_left[d], pads_right[d], kernel[d], dilation[d], stride[d]) for d in range(spatial)
        )
        branch = Branch(weight, bias, tuple(stride), tuple(dilation), rules)
        return low.add_node("dwconv", shape, operands={"x": x}, branches=[branch], attrs={"spatial": spatial})
    if (
        groups == 1
        and rank == 4
        and all(k == 1 for k in kernel)
        and all(s == 1 for s in stride)
        and not any(pads_left + pads_right)
    ):
        return low.add_node("pwconv", shape, operands={"x": x, "weight": weight, "bias": bias})
    if weight.flip:
        raise NoTemplate("a flipped weight in a direct convolution")
    attrs = {
        "spatial": spatial,
        "kernel": kernel,
        "stride": list(stride),
        "dilation": list(dilation),
        "pad_left": pads_left,
        "pad_right": pads_right,
        "groups": groups,
    }
    return low.add_node("conv", shape, operands={"x": x, "weight": weight, "bias": bias}, attrs=attrs)


def _transposed_convolution(
    low: Lowering, op: dict[str, Any], shape: Any, spatial: int, kernel: list[int], groups: int
) -> Value:
    """A transposed convolution (weight ``(CI, CO / groups, K...)``): the ``conv`` node, ``transposed``."""
    x_desc = _arg(op, 0, "input")
    weight = low.leaf_arg(op, 1, "weight")
    if weight.flip:
        raise NoTemplate("a flipped weight in a transposed convolution")
    bias = low.leaf_arg(op, 2, "bias") if _t(_arg(op, 2, "bias")) else None
    padding = [int(v) for v in _arg(op, 4, "padding")]
    attrs = {
        "spatial": spatial,
        "kernel": kernel,
        "stride": [int(v) for v in _arg(op, 3, "stride")],
        "dilation": [int(v) for v in _arg(op, 5, "dilation")],
        "pad_left": padding,
        "pad_right": padding,
        "output_padding": [int(v) for v in _arg(op, 7, "output_padding")],
        "groups": groups,
        "transposed": True,
    }
    x = low.operand(low.value(x_desc["tensor"], x_desc), x_desc["shape"])
    return low.add_node("conv", shape, operands={"x": x, "weight": weight, "bias": bias}, attrs=attrs)


def _fft_slice(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """slice(irfft(rfft(pad(a), N) * rfft(pad(b), N)), 0, L): a causal convolution of length L."""
    src = _arg(op, 0, "self")
    producer = low.producer.get(src["tensor"])
    if producer is None or low.ops[producer[0]]["op"] != "aten._fft_c2r":
        return _view(low, op, index, out_index, shape)
    c2r = low.ops[producer[0]]
    rank = len(src["shape"])
    dims, norm, n = _arg(c2r, 1, "dim"), _arg(c2r, 2, "normalization"), int(_arg(c2r, 3, "last_dim_size"))
    slice_dim = _norm_dim(int(_arg(op, 1, "dim", 0)), rank)
    start, end, step = _arg(op, 2, "start", 0) or 0, _arg(op, 3, "end"), _arg(op, 4, "step", 1)
    if [_norm_dim(d, rank) for d in dims] != [rank - 1] or slice_dim != rank - 1 or norm != 2 or start or step != 1:
        raise NoTemplate("an FFT pattern other than irfft(rfft(a) * rfft(b))[..., :L] over the last dim")
    prod = _arg(c2r, 0, "self")
    mul_at = low.producer.get(prod["tensor"])
    if mul_at is None or low.ops[mul_at[0]]["op"] != "aten.mul":
        raise NoTemplate("irfft of something other than a product of two rffts")
    mul = low.ops[mul_at[0]]
    factors = [_fft_factor(low, _arg(mul, i, name), n) for i, name in ((0, "self"), (1, "other"))]
    length = int(end) if end is not None else n
    signal = [f for f in factors if tuple(f[1]) == tuple(shape)]
    if not signal:
        raise NoTemplate("FFT convolution whose operands do not match the output shape")
    sig_desc, sig_shape = signal[0]
    filt_desc, filt_shape = factors[1] if signal[0] is factors[0] else factors[0]
    if filt_shape[-1] + sig_shape[-1] - 1 > n or length != sig_shape[-1]:
        raise NoTemplate("FFT length too short for a linear convolution (circular wrap-around)")
    if len(filt_shape) == 3 and filt_shape[0] == 1:
        pass
    elif len(filt_shape) != 2 and tuple(filt_shape[:-1]) != tuple(sig_shape[:-1]):
        raise NoTemplate(f"FFT convolution filter of shape {list(filt_shape)}")
    x = low.operand(low.value(sig_desc["tensor"], sig_desc), sig_shape)
    fval = low.value(filt_desc["tensor"], filt_desc)
    if isinstance(fval, LeafE):
        fval = fval.leaf
    if not isinstance(fval, Leaf):
        fval = low.operand(fval, filt_shape)
    if not isinstance(fval, Leaf):
        raise NoTemplate("FFT convolution filter computed in the forward")
    weight = Leaf(fval.root, fval.views, fval.shape, fval.dtype, tuple(sorted(set(fval.flip) ^ {-1})))
    k = filt_shape[-1]
    branch = Branch(weight, None, (1,), (1,), (("causal", k - 1, 0),))
    return low.add_node("dwconv", shape, operands={"x": x}, branches=[branch], attrs={"spatial": 1, "fft": True})


def _fft_factor(low: Lowering, desc: Any, n: int) -> tuple[dict[str, Any], list[int]]:
    if not _t(desc):
        raise NoTemplate("FFT product with a scalar")
    at = low.producer.get(desc["tensor"])
    if at is None or low.ops[at[0]]["op"] != "aten._fft_r2c":
        raise NoTemplate("FFT product of something other than an rfft")
    r2c = low.ops[at[0]]
    src = _arg(r2c, 0, "self")
    rank = len(src["shape"])
    dims, norm, onesided = _arg(r2c, 1, "dim"), _arg(r2c, 2, "normalization"), _arg(r2c, 3, "onesided")
    if [_norm_dim(d, rank) for d in dims] != [rank - 1] or norm != 0 or not onesided:
        raise NoTemplate("rfft other than an unnormalised one-sided transform over the last dim")
    pad_at = low.producer.get(src["tensor"])
    if pad_at is not None and low.ops[pad_at[0]]["op"] == "aten.constant_pad_nd":
        pad_op = low.ops[pad_at[0]]
        pad = list(_arg(pad_op, 1, "pad"))
        if pad[0] != 0 or any(pad[2:]) or (_arg(pad_op, 2, "value", 0) or 0) != 0:
            raise NoTemplate("rfft input padded other than with zeros at the end")
        src = _arg(pad_op, 0, "self")
    if src["shape"][-1] > n:
        raise NoTemplate("rfft truncates its input")
    return src, list(src["shape"])


def _split(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    base = low.leaf_arg(op, 0, "self")
    rank = base.rank or 0
    dim = _norm_dim(int(_arg(op, 2, "dim", 0)), rank)
    outs = op["outputs"]
    traced = [o["shape"][dim] for o in outs]
    sizes: list[Any] = []
    unknown = []
    for j, out in enumerate(outs):
        code = _size_from_consumer(low, out["tensor"], dim)
        sizes.append(code)
        if code is None:
            unknown.append(j)
    if len(unknown) > 1:
        sizes = list(traced)  # no rule explains them: the traced sizes
    elif len(unknown) == 1:
        known = [s for s in sizes if s is not None]
        sizes[unknown[0]] = _remainder(dim, known)
    starts: list[Any] = []
    for j in range(len(sizes)):
        starts.append(_sum_codes(sizes[:j]))
    j = out_index
    return base.view("narrow", dim, starts[j], sizes[j], shape=tuple(outs[j]["shape"]))


def _size_from_consumer(low: Lowering, label: str, dim: int) -> Any:
    """The run-time size of a split piece: the channel count of the depthwise conv that consumes it."""
    if dim != 1:
        return None
    for op in low.ops:
        if op["op"] == "aten.convolution" and _t(_arg(op, 0, "input")) and _arg(op, 0, "input")["tensor"] == label:
            w = _arg(op, 1, "weight")
            if int(_arg(op, 8, "groups")) == w["shape"][0] and w["shape"][1] == 1:
                leaf = low.value(w["tensor"], w)
                if isinstance(leaf, Leaf):
                    return _shape_code(leaf, 0)
    return None


def _shape_code(leaf: Leaf, dim: int) -> Any:
    def code(namer: Namer) -> str:
        return f"{namer(leaf)}.shape[{dim}]"

    return code


def _remainder(dim: int, known: list[Any]) -> Any:
    def code(namer: Namer) -> str:
        parts = " - ".join(_render_int(k, namer) for k in known)
        return f"{{base}}.shape[{dim}]" + (f" - {parts}" if parts else "")

    return code


def _sum_codes(parts: list[Any]) -> Any:
    if not parts:
        return 0
    if all(isinstance(p, int) for p in parts):
        return sum(parts)

    def code(namer: Namer) -> str:
        return " + ".join(_render_int(p, namer) for p in parts)

    return code


def _render_int(value: Any, namer: Namer) -> str:
    return str(value) if isinstance(value, int) else f"({value(namer)})"


def _cat(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    pieces_desc = _arg(op, 0, "tensors")
    dim = _norm_dim(int(_arg(op, 1, "dim", 0)), len(shape))
    pieces = [low.operand(low.value(d["tensor"], d), d["shape"]) for d in pieces_desc]
    return low.add_node("cat", shape, attrs={"dim": dim, "pieces": pieces})


def _mm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    a_desc = _arg(op, 0, "self")
    at = low.producer.get(a_desc["tensor"])
    if at is not None and low.ops[at[0]]["op"] == "aten.sparse_compressed_tensor":
        return _spmm(low, low.ops[at[0]], _arg(op, 1, "mat2"), shape)
    a = low.operand(low.tensor_arg(op, 0, "self"), a_desc["shape"])
    b = low.operand(low.tensor_arg(op, 1, "mat2"), _arg(op, 1, "mat2")["shape"])
    return low.add_node("matmul", shape, operands={"a": a, "b": b})


def _bmm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    a = low.operand(low.tensor_arg(op, 0, "self"), _arg(op, 0, "self")["shape"])
    b = low.operand(low.tensor_arg(op, 1, "mat2"), _arg(op, 1, "mat2")["shape"])
    return low.add_node("matmul", shape, operands={"a": a, "b": b}, attrs={"batched": True})


def _triangle(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """triu / tril of a product computed here only for it: the matmul masks its tile before the store."""
    src = _arg(op, 0, "self")
    consumers = sum(
        1
        for o in low.ops
        for a in [*o.get("args", []), *o.get("kwargs", {}).values()]
        if _t(a) and a["tensor"] == src["tensor"]
    )
    val = low.tensor_arg(op, 0, "self")
    node = low.nodes[val.node] if isinstance(val, NodeRef) else None
    if node is None or node.kind != "matmul" or node.epilogue is not None or consumers != 1 or len(shape) != 2:
        raise NoTemplate(f"{op['op']} of something other than a matrix product used only there")
    node.attrs["triangle"] = ("upper" if op["op"] == "aten.triu" else "lower", int(_arg(op, 1, "diagonal", 0) or 0))
    return val


def _attention(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Scaled dot-product attention without mask, dropout or causality: softmax(Q K^T * scale) V as two
    batched matmuls (the scale fused into the first) and a row softmax, over (batch * heads) views."""
    kwargs = op.get("kwargs", {})
    if (
        float(_arg(op, 3, "dropout_p", 0.0) or 0.0) != 0.0
        or bool(_arg(op, 4, "is_causal", False))
        or _t(kwargs.get("attn_mask"))
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
            "reshape", _run_code(0, rank - 2), _run_code(rank - 2, rank - 1), _run_code(rank - 1, rank),
            shape=(_prod_ints(s[:-2]), s[-2], s[-1]),
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


def _logsumexp(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """log(sum(exp(x - max))) + max over any dims (the max kept for the shift, reduced again if not kept)."""
    in_shape = _input_shape(op)
    dims = _dims(_arg(op, 1, "dim"), len(in_shape))
    keepdim = bool(_arg(op, 2, "keepdim", False))
    x = low.expr(low.tensor_arg(op, 0, "self"))
    top = NodeE(_reduce(low, x, in_shape, dims, True, "max").node)
    total = NodeE(_reduce(low, Un("exp", Bin("sub", x, top)), in_shape, dims, keepdim, "sum").node)
    shift = top if keepdim else NodeE(_reduce(low, x, in_shape, dims, False, "max").node)
    return Bin("add", Un("log", total), shift)


def _addmm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    beta = op.get("kwargs", {}).get("beta", 1)
    alpha = op.get("kwargs", {}).get("alpha", 1)
    bias = low.expr(low.tensor_arg(op, 0, "self"))
    a = low.operand(low.tensor_arg(op, 1, "mat1"), _arg(op, 1, "mat1")["shape"])
    b = low.operand(low.tensor_arg(op, 2, "mat2"), _arg(op, 2, "mat2")["shape"])
    mm: Expr = NodeE(low.add_node("matmul", shape, operands={"a": a, "b": b}).node)
    if alpha != 1:
        mm = Bin("mul", mm, Const(float(alpha)))
    if beta != 1:
        bias = Bin("mul", bias, Const(float(beta)))
    return Bin("add", mm, bias)


def _spmm(low: Lowering, sparse_op: dict[str, Any], dense_desc: dict[str, Any], shape: Any) -> Value:
    layout = str(sparse_op.get("kwargs", {}).get("layout", ""))
    if "csr" not in layout:
        raise NoTemplate(f"sparse layout {layout or 'unknown'} (only CSR has a template)")
    crow = low.leaf_arg(sparse_op, 0, "compressed_indices")
    col = low.leaf_arg(sparse_op, 1, "plain_indices")
    values = low.leaf_arg(sparse_op, 2, "values")
    dense = low.operand(low.value(dense_desc["tensor"], dense_desc), dense_desc["shape"])
    return low.add_node("spmm", shape, operands={"crow": crow, "col": col, "values": values, "x": dense})


def _softmax(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    dim = _norm_dim(int(_arg(op, 1, "dim")), len(shape))
    if dim != len(shape) - 1:
        raise NoTemplate("softmax over a dim other than the last")
    x = low.operand(low.tensor_arg(op, 0, "self"), shape)
    return low.add_node("softmax", shape, operands={"x": x})


def _layer_norm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    if out_index != 0:
        raise NoTemplate("layer norm statistics are used")
    if len(_arg(op, 1, "normalized_shape")) != 1:
        raise NoTemplate("layer norm over more than the last dim")
    x = low.operand(low.tensor_arg(op, 0, "input"), shape)
    w = low.leaf_arg(op, 2, "weight") if _t(_arg(op, 2, "weight")) else None
    b = low.leaf_arg(op, 3, "bias") if _t(_arg(op, 3, "bias")) else None
    eps = float(_arg(op, 4, "eps"))
    return low.add_node("layernorm", shape, operands={"x": x, "weight": w, "bias": b}, attrs={"eps": eps})


# -- reductions, scans and what decomposes into them -------------------------------------------


def _dims(dim: Any, rank: int) -> tuple[int, ...]:
    """A reduction's dims: an int, a list, or None / [] for all dims."""
    if dim is None or (isinstance(dim, list | tuple) and not dim):
        return tuple(range(rank))
    if isinstance(dim, int):
        dim = [dim]
    return tuple(sorted({_norm_dim(int(d), rank) for d in dim}))


def _reduced_shape(shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool) -> tuple[int, ...]:
    return tuple((1 if d in dims else n) for d, n in enumerate(shape) if keepdim or d not in dims)


def _reduce(
    low: Lowering, x: Value, in_shape: Any, dims: tuple[int, ...], keepdim: bool, op: str, correction: float = 0.0
) -> NodeRef:
    """A reduce node over ``dims`` of ``x`` (an expression is materialised first)."""
    in_shape = tuple(in_shape)
    operand = low.operand(x, in_shape)
    if isinstance(operand, Leaf) and operand.flip:
        raise NoTemplate("a reduction of a flipped tensor")
    attrs = {"op": op, "dims": dims, "keepdim": keepdim, "rank": len(in_shape), "correction": correction}
    return low.add_node("reduce", _reduced_shape(in_shape, dims, keepdim), operands={"x": operand}, attrs=attrs)


def _node(low: Lowering, expr: Expr, shape: Any) -> Expr:
    """``expr`` computed once into a buffer (it is read by several kernels)."""
    return NodeE(low.operand(expr, tuple(shape)).node)  # type: ignore[union-attr]


def _input_shape(op: dict[str, Any], index: int = 0, name: str = "self") -> tuple[int, ...]:
    arg = _arg(op, index, name)
    if not _t(arg):
        raise NoTemplate(f"{op['op']}: argument {name} is not a tensor")
    return tuple(arg["shape"])


def _sum_mean(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    name = op["op"]
    in_shape = _input_shape(op)
    dims = _dims(_arg(op, 1, "dim"), len(in_shape))
    keepdim = bool(_arg(op, 2, "keepdim", False))
    x = low.tensor_arg(op, 0, "self")
    return _reduce(low, x, in_shape, dims, keepdim, "sum" if name in ("aten.sum", "aten.nansum") else "mean")


def _max_min(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    name = op["op"]
    kind = "max" if name in ("aten.max", "aten.amax") else "min"
    second = _arg(op, 1, "dim" if name in ("aten.amax", "aten.amin") else "other")
    if _t(second):  # torch.max(a, b): elementwise
        return Bin(kind, low.expr(low.tensor_arg(op, 0, "self")), low._scalar_or_expr(second))
    if out_index:
        raise NoTemplate(f"{name} indices are used")
    in_shape = _input_shape(op)
    dims = _dims(_arg(op, 1, "dim"), len(in_shape))
    keepdim = bool(_arg(op, 2, "keepdim", False))
    return _reduce(low, low.tensor_arg(op, 0, "self"), in_shape, dims, keepdim, kind)


def _arg_reduce(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    in_shape = _input_shape(op)
    dim = _arg(op, 1, "dim")
    keepdim = bool(_arg(op, 2, "keepdim", False))
    if dim is None and len(in_shape) > 1:
        raise NoTemplate(f"{op['op']} over the flattened tensor")
    dims = _dims(dim, len(in_shape))
    return _reduce(low, low.tensor_arg(op, 0, "self"), in_shape, dims, keepdim, op["op"].split(".")[1])


def _prod_reduce(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    in_shape = _input_shape(op)
    dims = _dims(_arg(op, 1, "dim"), len(in_shape))
    keepdim = bool(_arg(op, 2, "keepdim", False))
    return _reduce(low, low.tensor_arg(op, 0, "self"), in_shape, dims, keepdim, "prod")


def _var_std(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """var / std: mean, then the mean of squared deviations with Bessel's correction (``correction``)."""
    in_shape = _input_shape(op)
    dims = _dims(_arg(op, 1, "dim"), len(in_shape))
    kwargs = op.get("kwargs", {})
    correction = kwargs.get("correction", 1)
    if "unbiased" in kwargs:
        correction = 1 if kwargs["unbiased"] else 0
    correction = 1.0 if correction is None else float(correction)
    keepdim = bool(kwargs.get("keepdim", _arg(op, 2, "keepdim", False)))
    x = low.expr(low.tensor_arg(op, 0, "self"))
    var = _variance(low, x, in_shape, dims, keepdim, correction)
    return Un("sqrt", var) if op["op"] == "aten.std" else var


def _variance(low: Lowering, x: Expr, in_shape: Any, dims: tuple[int, ...], keepdim: bool, correction: float) -> Expr:
    mean = NodeE(_reduce(low, x, in_shape, dims, True, "mean").node)
    dev = _node(low, Bin("sub", x, mean), in_shape)
    return NodeE(_reduce(low, Bin("mul", dev, dev), in_shape, dims, keepdim, "mean", correction).node)


def _vector_norm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """linalg_vector_norm / norm: sum of |x|^p, then its 1/p-th power (inf: max |x|)."""
    in_shape = _input_shape(op)
    name = op["op"]
    if name == "aten.norm":
        p, dim, keepdim = _arg(op, 1, "p", 2), _arg(op, 2, "dim"), bool(_arg(op, 3, "keepdim", False))
    else:
        p, dim, keepdim = _arg(op, 1, "ord", 2), _arg(op, 2, "dim"), bool(_arg(op, 3, "keepdim", False))
    if op.get("kwargs", {}).get("dtype") is not None:
        raise NoTemplate(f"{name} with a dtype")
    p = 2.0 if p is None else float(p)
    dims = _dims(dim, len(in_shape))
    x = Un("abs", low.expr(low.tensor_arg(op, 0, "self")))
    if p == float("inf"):
        return _reduce(low, x, in_shape, dims, keepdim, "max")
    if p <= 0:
        raise NoTemplate(f"{name} of order {p}")
    total = NodeE(_reduce(low, _power(x, p), in_shape, dims, keepdim, "sum").node)
    if p == 1:
        return total
    return Un("sqrt", total) if p == 2 else _power(total, 1.0 / p)


def _loss(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Pointwise losses (MSE, L1, smooth L1, Huber) and their reduction (0 none, 1 mean, 2 sum)."""
    name = op["op"]
    a = low.expr(low.tensor_arg(op, 0, "self"))
    b = low._scalar_or_expr(_arg(op, 1, "target"))
    in_shape = tuple(shape) if not _arg(op, 2, "reduction", 1) else _input_shape(op)
    d = Bin("sub", a, b)
    if name == "aten.mse_loss":
        each: Expr = Bin("mul", d, d)
    elif name == "aten.l1_loss":
        each = Un("abs", d)
    elif name == "aten.smooth_l1_loss":
        beta = float(_arg(op, 3, "beta", 1.0))
        each = Un("smooth_l1", d, (beta,)) if beta > 0 else Un("abs", d)
    else:
        each = Un("huber", d, (float(_arg(op, 3, "delta", 1.0)),))
    reduction = int(_arg(op, 2, "reduction", 1))
    if reduction == 0:
        return each
    dims = tuple(range(len(in_shape)))
    return _reduce(low, each, in_shape, dims, False, "mean" if reduction == 1 else "sum")


def _nll_loss(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """nll_loss (cross entropy is log_softmax + nll_loss): each sample's -x[i, target[i]] by a pick
    node, then none / mean over the samples not ignored / sum."""
    if out_index:
        raise NoTemplate("nll_loss's total weight is used")
    if _t(_arg(op, 2, "weight")):
        raise NoTemplate("nll_loss with class weights")
    in_shape = _input_shape(op)
    if len(in_shape) != 2:
        raise NoTemplate(f"nll_loss of a rank-{len(in_shape)} input")
    x = low.operand(low.tensor_arg(op, 0, "self"), in_shape)
    target = low.leaf_arg(op, 1, "target")
    if (isinstance(x, Leaf) and x.flip) or target.flip:
        raise NoTemplate("nll_loss of a flipped tensor")
    reduction, ignore = int(_arg(op, 3, "reduction", 1)), int(_arg(op, 4, "ignore_index", -100))
    picked = low.add_node("pick", (in_shape[0],), operands={"x": x, "target": target}, attrs={"ignore_index": ignore})
    if reduction == 0:
        return picked
    total = NodeE(_reduce(low, NodeE(picked.node), (in_shape[0],), (0,), False, "sum").node)
    if reduction == 2:
        return total
    kept = Bin("ne", LeafE(target), Const(float(ignore)))
    return Bin("div", total, NodeE(_reduce(low, kept, (in_shape[0],), (0,), False, "sum").node))


def _scan(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any, reverse: bool = False) -> Value:
    if op.get("kwargs", {}).get("dtype") is not None:
        raise NoTemplate(f"{op['op']} with a dtype")
    in_shape = _input_shape(op)
    dim = _norm_dim(int(_arg(op, 1, "dim")), max(1, len(in_shape)))
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


def _softmax_any(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """softmax / log_softmax over any dim: max, exp(x - max) once into a buffer, sum, then divide / log."""
    shape = tuple(shape)
    dim = _norm_dim(int(_arg(op, 1, "dim")), len(shape))
    if op["op"] in ("aten._softmax", "aten._safe_softmax") and dim == len(shape) - 1:
        return _softmax(low, op, index, out_index, shape)
    x = low.expr(low.tensor_arg(op, 0, "self"))
    top = NodeE(_reduce(low, x, shape, (dim,), True, "max").node)
    shifted = Bin("sub", x, top)
    if op["op"] in ("aten._softmax", "aten._safe_softmax"):
        e = _node(low, Un("exp", shifted), shape)
        return Bin("div", e, NodeE(_reduce(low, e, shape, (dim,), True, "sum").node))
    total = NodeE(_reduce(low, Un("exp", shifted), shape, (dim,), True, "sum").node)
    return Bin("sub", shifted, Un("log", total))


def _affine(y: Expr, weight: Leaf | None, bias: Leaf | None, trailing: int) -> Expr:
    """``y * weight + bias`` with per-channel parameters unsqueezed over ``trailing`` dims."""
    for leaf, kind in ((weight, "mul"), (bias, "add")):
        if leaf is None:
            continue
        for _ in range(trailing):
            leaf = leaf.view("unsqueeze", -1, shape=(*(leaf.shape or ()), 1))
        y = Bin(kind, y, LeafE(leaf))
    return y


def _layer_norm_any(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    if out_index != 0:
        raise NoTemplate("layer norm statistics are used")
    if len(_arg(op, 1, "normalized_shape")) == 1:
        return _layer_norm(low, op, index, out_index, shape)
    shape = tuple(shape)
    k = len(_arg(op, 1, "normalized_shape"))
    dims = tuple(range(len(shape) - k, len(shape)))
    x = low.expr(low.tensor_arg(op, 0, "input"))
    w = low.leaf_arg(op, 2, "weight") if _t(_arg(op, 2, "weight")) else None
    b = low.leaf_arg(op, 3, "bias") if _t(_arg(op, 3, "bias")) else None
    return _normalise(low, x, shape, dims, float(_arg(op, 4, "eps")), w, b, 0)


def _normalise(
    low: Lowering, x: Expr, shape: tuple[int, ...], dims: tuple[int, ...], eps: float, w: Any, b: Any, trailing: int
) -> Expr:
    mean = NodeE(_reduce(low, x, shape, dims, True, "mean").node)
    dev = _node(low, Bin("sub", x, mean), shape)
    var = NodeE(_reduce(low, Bin("mul", dev, dev), shape, dims, True, "mean").node)
    y = Bin("mul", dev, Un("rsqrt", Bin("add", var, Const(eps))))
    return _affine(y, w, b, trailing)


def _batch_norm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Batch norm: training (batch statistics over all dims but channels) or eval (running statistics)."""
    if out_index != 0:
        raise NoTemplate("batch norm statistics are used")
    name = op["op"]
    shape = tuple(shape)
    x = low.expr(low.tensor_arg(op, 0, "input"))
    w = low.leaf_arg(op, 1, "weight") if _t(_arg(op, 1, "weight")) else None
    b = low.leaf_arg(op, 2, "bias") if _t(_arg(op, 2, "bias")) else None
    if name == "aten._native_batch_norm_legit_no_training":
        training, eps = False, float(_arg(op, 6, "eps"))
    else:
        training, eps = bool(_arg(op, 5, "training")), float(_arg(op, 7, "eps"))
    trailing = len(shape) - 2
    if training:
        dims = (0, *range(2, len(shape)))
        return _normalise(low, x, shape, dims, eps, w, b, trailing)
    mean, var = low.leaf_arg(op, 3, "running_mean"), low.leaf_arg(op, 4, "running_var")
    centred = Bin("sub", x, _affine(LeafE(mean), None, None, 0) if trailing == 0 else _unsq(mean, trailing))
    y = Bin("mul", centred, Un("rsqrt", Bin("add", _unsq(var, trailing), Const(eps))))
    return _affine(y, w, b, trailing)


def _unsq(leaf: Leaf, trailing: int) -> Expr:
    for _ in range(trailing):
        leaf = leaf.view("unsqueeze", -1, shape=(*(leaf.shape or ()), 1))
    return LeafE(leaf)


def _cumsum(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    return _scan(low, op, index, out_index, shape)


def _flip_any(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """flip(cumsum(flip(x, d), d), d) is a reverse cumulative sum; other flips fold into kernels' reads."""
    src = _arg(op, 0, "self")
    at = low.producer.get(src["tensor"]) if _t(src) else None
    dims = _arg(op, 1, "dims")
    if at is not None and low.ops[at[0]]["op"] in ("aten.cumsum", "aten.cumprod") and len(dims) == 1:
        scan_op = low.ops[at[0]]
        rank = len(shape)
        if _norm_dim(int(dims[0]), rank) == _norm_dim(int(_arg(scan_op, 1, "dim")), rank):
            return _scan(low, scan_op, at[0], 0, shape, reverse=True)
    return _flip(low, op, index, out_index, shape)


def _node_view(low: Lowering, op: dict[str, Any], val: Value, shape: Any) -> Value:
    """A shape-agnostic view of a computed buffer: replayed on it in the forward (no kernel)."""
    src = _arg(op, 0, "self")
    x = low.operand(val, src["shape"])
    name = op["op"].split(".")[1]
    if name == "squeeze":
        dim = _arg(op, 1, "dim")
        if dim is None or isinstance(dim, list):
            raise NoTemplate("squeeze without a single dim")
        args: tuple[int, ...] = (int(dim),)
    elif name == "unsqueeze":
        args = (int(_arg(op, 1, "dim")),)
    elif name == "transpose":
        args = (int(_arg(op, 1, "dim0")), int(_arg(op, 2, "dim1")))
    elif name == "permute":
        args = tuple(int(d) for d in _arg(op, 1, "dims"))
    else:
        args = ()
    return low.add_node("view", shape, operands={"x": x}, attrs={"method": name, "args": args})


def _pool(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """max_pool{1,2,3}d (values only) and avg_pool{1,2,3}d."""
    name = op["op"]
    if out_index:
        raise NoTemplate(f"{name} indices are used")
    in_shape = _input_shape(op)
    sd = len(in_shape) - 2
    if sd not in (1, 2, 3):
        raise NoTemplate(f"{name} of a rank-{len(in_shape)} input")

    def per_dim(value: Any, default: Any) -> list[int]:
        if value is None or (isinstance(value, list | tuple) and not value):
            value = default
        if isinstance(value, int):
            return [value] * sd
        return [int(v) for v in value] * (sd if len(value) == 1 else 1)

    kernel = per_dim(_arg(op, 1, "kernel_size"), None)
    stride = per_dim(_arg(op, 2, "stride"), kernel)
    padding = per_dim(_arg(op, 3, "padding", 0), 0)
    attrs: dict[str, Any] = {"spatial": sd, "kernel": kernel, "stride": stride, "padding": padding}
    if "max_pool" in name:
        dilation = per_dim(_arg(op, 4, "dilation", 1), 1)
        attrs.update(op="max", dilation=dilation, ceil_mode=bool(_arg(op, 5, "ceil_mode")))
    else:
        attrs.update(
            op="avg",
            dilation=[1] * sd,
            ceil_mode=bool(_arg(op, 4, "ceil_mode")),
            count_include_pad=bool(_arg(op, 5, "count_include_pad", True)),
            divisor=_arg(op, 6, "divisor_override"),
        )
    x = low.operand(low.tensor_arg(op, 0, "self"), in_shape)
    if isinstance(x, Leaf) and x.flip:
        raise NoTemplate("pooling of a flipped tensor")
    return low.add_node("pool", shape, operands={"x": x}, attrs=attrs)


def _reshape(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """view/reshape: only instance norm's view(batch_norm(view(x, (1, N*C, ...))), x.shape) is understood."""
    src = _arg(op, 0, "self")
    at = low.producer.get(src["tensor"]) if _t(src) else None
    if at is not None and low.ops[at[0]]["op"] == "aten.native_batch_norm" and at[1] == 0:
        bn = low.ops[at[0]]
        inner = _arg(bn, 0, "input")
        view_at = low.producer.get(inner["tensor"])
        if view_at is not None and low.ops[view_at[0]]["op"] in ("aten.view", "aten._unsafe_view", "aten.reshape"):
            x_desc = _arg(low.ops[view_at[0]], 0, "self")
            x_shape, in_shape = tuple(x_desc["shape"]), tuple(inner["shape"])
            if (
                tuple(shape) == x_shape
                and len(x_shape) >= 3
                and in_shape[0] == 1
                and in_shape[1] == x_shape[0] * x_shape[1]
                and in_shape[2:] == x_shape[2:]
                and bool(_arg(bn, 5, "training"))
                and not _t(_arg(bn, 1, "weight"))
                and not _t(_arg(bn, 2, "bias"))
            ):
                x = low.expr(low.value(x_desc["tensor"], x_desc))
                dims = tuple(range(2, len(x_shape)))
                return _normalise(low, x, x_shape, dims, float(_arg(bn, 7, "eps")), None, None, 0)
    return _generic_reshape(low, op, shape)


def _generic_reshape(low: Lowering, op: dict[str, Any], shape: Any) -> Value:
    """view / reshape: replayed in the forward, with sizes written in terms of the source's sizes where
    the reshape merges or splits whole dims (sizes only a trace can explain are the traced ones)."""
    src = _arg(op, 0, "self")
    if not _t(src):
        raise NoTemplate(f"{op['op']} of a non-tensor")
    args = _reshape_args(tuple(src["shape"]), tuple(shape))
    val = low.tensor_arg(op, 0, "self")
    if isinstance(val, LeafE):
        val = val.leaf
    if isinstance(val, Leaf):
        if val.flip:
            raise NoTemplate("a reshape after a flip")
        return val.view("reshape", *args, shape=tuple(shape))
    x = low.operand(val, src["shape"])
    return low.add_node("view", shape, operands={"x": x}, attrs={"method": "reshape", "args": tuple(args)})


def _reshape_args(src: tuple[int, ...], out: tuple[int, ...]) -> list[Any]:
    """Per output dim: ``1``, the product of a run of source dims, or a split of one source dim (all but
    one part as traced, that part the quotient); anything else: the traced sizes."""
    if _prod_ints(src) != _prod_ints(out):
        raise NoTemplate("a reshape that changes the element count")
    args: list[Any] = []
    i = 0
    j = 0
    while j < len(out):
        if out[j] == 1:
            args.append(1)
            j += 1
            continue
        while i < len(src) and src[i] == 1:
            i += 1
        # a run src[i:i2] with the same product as out[j:j2]
        i2, j2 = i + 1, j + 1
        ps, po = src[i] if i < len(src) else 1, out[j]
        while ps != po:
            if ps < po and i2 < len(src):
                ps *= src[i2]
                i2 += 1
            elif po < ps and j2 < len(out):
                po *= out[j2]
                j2 += 1
            else:
                return list(out)
        if j2 - j == 1:
            args.append(_run_code(i, i2))
        elif i2 - i == 1:
            big = max(range(j, j2), key=lambda d: out[d])
            others = _prod_ints(out[d] for d in range(j, j2) if d != big)
            for d in range(j, j2):
                args.append(_split_code(i, others) if d == big else out[d])
        else:
            args.extend(out[j:j2])
        i, j = i2, j2
    return args


def _run_code(a: int, b: int) -> Any:
    def code(namer: Namer) -> str:
        return f"{{base}}.shape[{a}]" if b == a + 1 else f"_prod({{base}}.shape[{a}:{b}])"

    return code


def _split_code(dim: int, others: int) -> Any:
    def code(namer: Namer) -> str:
        return f"{{base}}.shape[{dim}] // {others}"

    return code


def _group_norm(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Group norm: statistics over a (N, G, -1) view, normalised there, viewed back, then the affine."""
    if out_index != 0:
        raise NoTemplate("group norm statistics are used")
    shape = tuple(shape)
    groups, eps = int(_arg(op, 6, "group")), float(_arg(op, 7, "eps"))
    grouped = (shape[0], groups, _prod_ints(shape[1:]) // groups)
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
    y = _node(low, _normalise(low, xg, grouped, (2,), eps, None, None, 0), grouped)
    back = low.add_node("view", shape, operands={"x": NodeRef(y.node)}, attrs={"method": "view_as", "args": (x,)})
    w = low.leaf_arg(op, 1, "weight") if _t(_arg(op, 1, "weight")) else None
    b = low.leaf_arg(op, 2, "bias") if _t(_arg(op, 2, "bias")) else None
    return _affine(NodeE(back.node), w, b, len(shape) - 2)


def _prod_ints(sizes: Any) -> int:
    out = 1
    for n in sizes:
        out *= int(n)
    return out


def _shape_code_of(x: Operand, dim: int) -> Any:
    def code(namer: Namer) -> str:
        return f"{{base}}.shape[{dim}]"

    return code


_HANDLERS = {
    **dict.fromkeys(_IDENTITY_OPS, _identity),
    "aten._to_copy": _to_copy,
    "aten.to": _to_copy,
    "aten.unsqueeze": _view,
    "aten.squeeze": _view,
    "aten.t": _view,
    "aten.transpose": _view,
    "aten.permute": _view,
    "aten.select": _view,
    "aten.slice": _fft_slice,
    "aten.flip": _flip_any,
    "aten.gelu": _gelu,
    "aten.clamp": _clamp,
    "aten.clamp_min": _clamp,
    "aten.clamp_max": _clamp,
    "aten.pow": _pow,
    "aten.convolution": _convolution,
    "aten.split_with_sizes": _split,
    "aten.cat": _cat,
    "aten.mm": _mm,
    "aten.addmm": _addmm,
    "aten.bmm": _bmm,
    "aten.triu": _triangle,
    "aten.tril": _triangle,
    "aten.logsumexp": _logsumexp,
    "aten._scaled_dot_product_flash_attention_for_cpu": _attention,
    "aten._softmax": _softmax_any,
    "aten._log_softmax": _softmax_any,
    "aten._safe_softmax": _softmax_any,
    "aten.native_layer_norm": _layer_norm_any,
    "aten.native_batch_norm": _batch_norm,
    "aten._native_batch_norm_legit_no_training": _batch_norm,
    "aten.leaky_relu": _unary_args,
    "aten.elu": _unary_args,
    "aten.softplus": _unary_args,
    "aten.hardtanh": _unary_args,
    "aten.rsub": _unary_args,
    "aten.round": _unary_args,
    "aten.sum": _sum_mean,
    "aten.nansum": _sum_mean,
    "aten.mean": _sum_mean,
    "aten.max": _max_min,
    "aten.min": _max_min,
    "aten.amax": _max_min,
    "aten.amin": _max_min,
    "aten.argmax": _arg_reduce,
    "aten.argmin": _arg_reduce,
    "aten.prod": _prod_reduce,
    "aten.var": _var_std,
    "aten.std": _var_std,
    "aten.linalg_vector_norm": _vector_norm,
    "aten.norm": _vector_norm,
    "aten.mse_loss": _loss,
    "aten.l1_loss": _loss,
    "aten.smooth_l1_loss": _loss,
    "aten.huber_loss": _loss,
    "aten.nll_loss_forward": _nll_loss,
    "aten.cumsum": _cumsum,
    "aten.cumprod": _cumsum,
    "aten.view": _reshape,
    "aten._unsafe_view": _reshape,
    "aten.reshape": _reshape,
    "aten.native_group_norm": _group_norm,
    **dict.fromkeys(
        (
            "aten.max_pool1d",
            "aten.max_pool2d_with_indices",
            "aten.max_pool3d_with_indices",
            "aten.max_pool2d",
            "aten.max_pool3d",
            "aten.avg_pool1d",
            "aten.avg_pool2d",
            "aten.avg_pool3d",
        ),
        _pool,
    ),
}


def lower_trace(trace: Any, input_names: list[str]) -> Program:
    """Lower an ``OpTrace`` to a ``Program``; raises ``NoTemplate`` for ops without a template."""
    if not trace.ops:
        raise NoTemplate("the forward dispatches no aten op")
    return Lowering(trace, input_names).program()


__all__ = ["Acc", "NoTemplate", "Operand", "lower_trace"]
