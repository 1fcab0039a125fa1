"""Views and copies: identity ops, casts, views of inputs and parameters (replayed in the forward),
slices, flips, split and cat, and reshapes (a view where the layout allows, else a copy node)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.template.ir import Expr, Leaf, LeafE, Namer, Un
from agents.template.lowering.common import (
    NoTemplate,
    Value,
    arg_of,
    norm_dim,
    prod_ints,
    render_int,
    run_code,
    tensor_desc,
)
from agents.template.lowering.norms import normalise
from agents.template.lowering.reductions import scan

if TYPE_CHECKING:
    from agents.template.recognise import Lowering


IDENTITY_OPS = {"aten.alias", "aten.detach", "aten.clone", "aten.contiguous", "aten.lift_fresh", "aten.expand"}


def identity(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    val = low.tensor_arg(op, 0, "self")
    if isinstance(val, Leaf) and shape is not None:
        return Leaf(val.root, val.views, shape, val.dtype, val.flip)
    return val


def to_copy(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    val = low.tensor_arg(op, 0, "self")
    dtype = op.get("kwargs", {}).get("dtype")
    if dtype is None or dtype in ("float32", "float64"):
        return val  # kernels compute in float32 already
    if dtype in ("float16", "bfloat16"):
        return Un("cast", low.expr(val), (dtype,))
    raise NoTemplate(f"cast to {dtype}")


def view(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """Shape-agnostic views of an input or parameter, replayed in the candidate's forward."""
    name = op["op"]
    val = low.tensor_arg(op, 0, "self")
    if isinstance(val, LeafE):
        val = val.leaf
    if not isinstance(val, Leaf):
        if name in ("aten.unsqueeze",) and isinstance(val, Expr) and shape is not None:
            # Broadcasting handles an added size-1 dim of an elementwise value only at the front.
            dim = norm_dim(int(arg_of(op, 1, "dim")), len(shape))
            if dim == 0:
                return val
        if name in ("aten.squeeze", "aten.unsqueeze", "aten.transpose", "aten.permute", "aten.t"):
            return _node_view(low, op, val, shape)
        raise NoTemplate(f"{name} of a computed tensor")
    if name == "aten.unsqueeze":
        if val.flip and norm_dim(int(arg_of(op, 1, "dim")), len(shape)) == len(shape) - 1:
            raise NoTemplate("unsqueeze after a flip on the last dim")
        return val.view("unsqueeze", int(arg_of(op, 1, "dim")), shape=shape)
    if val.flip:
        raise NoTemplate(f"{name} after a flip")
    if name == "aten.squeeze":
        dim = arg_of(op, 1, "dim")
        if dim is None or isinstance(dim, list):
            raise NoTemplate("squeeze without a single dim")
        return val.view("squeeze", int(dim), shape=shape)
    if name == "aten.t":
        return val.view("t", shape=shape)
    if name == "aten.transpose":
        return val.view("transpose", int(arg_of(op, 1, "dim0")), int(arg_of(op, 2, "dim1")), shape=shape)
    if name == "aten.permute":
        return val.view("permute", *[int(d) for d in arg_of(op, 1, "dims")], shape=shape)
    if name == "aten.select":
        return val.view("select", int(arg_of(op, 1, "dim")), int(arg_of(op, 2, "index")), shape=shape)
    if name == "aten.slice":
        return _slice_leaf(val, op, shape)
    raise NoTemplate(f"no template for `{name}`")


def _slice_leaf(val: Leaf, op: dict[str, Any], shape: Any) -> Leaf:
    rank = val.rank or 0
    dim = norm_dim(int(arg_of(op, 1, "dim", 0)), rank)
    start = arg_of(op, 2, "start", 0) or 0
    end = arg_of(op, 3, "end", None)
    step = arg_of(op, 4, "step", 1)
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
    dims = tuple(sorted({norm_dim(int(d), val.rank) - val.rank for d in arg_of(op, 1, "dims")}))
    return Leaf(val.root, val.views, val.shape, val.dtype, tuple(sorted(set(val.flip) ^ set(dims))))


def split(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    base = low.leaf_arg(op, 0, "self")
    rank = base.rank or 0
    dim = norm_dim(int(arg_of(op, 2, "dim", 0)), rank)
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
        if (
            op["op"] == "aten.convolution"
            and tensor_desc(arg_of(op, 0, "input"))
            and arg_of(op, 0, "input")["tensor"] == label
        ):
            w = arg_of(op, 1, "weight")
            if int(arg_of(op, 8, "groups")) == w["shape"][0] and w["shape"][1] == 1:
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
        parts = " - ".join(render_int(k, namer) for k in known)
        return f"{{base}}.shape[{dim}]" + (f" - {parts}" if parts else "")

    return code


def _sum_codes(parts: list[Any]) -> Any:
    if not parts:
        return 0
    if all(isinstance(p, int) for p in parts):
        return sum(parts)

    def code(namer: Namer) -> str:
        return " + ".join(render_int(p, namer) for p in parts)

    return code


def cat(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    pieces_desc = arg_of(op, 0, "tensors")
    dim = norm_dim(int(arg_of(op, 1, "dim", 0)), len(shape))
    pieces = [low.operand(low.value(d["tensor"], d), d["shape"]) for d in pieces_desc]
    return low.add_node("cat", shape, attrs={"dim": dim, "pieces": pieces})


def _node_view(low: Lowering, op: dict[str, Any], val: Value, shape: Any) -> Value:
    """A shape-agnostic view of a computed buffer: replayed on it in the forward (no kernel)."""
    src = arg_of(op, 0, "self")
    x = low.operand(val, src["shape"])
    name = op["op"].split(".")[1]
    if name == "squeeze":
        dim = arg_of(op, 1, "dim")
        if dim is None or isinstance(dim, list):
            raise NoTemplate("squeeze without a single dim")
        args: tuple[int, ...] = (int(dim),)
    elif name == "unsqueeze":
        args = (int(arg_of(op, 1, "dim")),)
    elif name == "transpose":
        args = (int(arg_of(op, 1, "dim0")), int(arg_of(op, 2, "dim1")))
    elif name == "permute":
        args = tuple(int(d) for d in arg_of(op, 1, "dims"))
    else:
        args = ()
    return low.add_node("view", shape, operands={"x": x}, attrs={"method": name, "args": args})


def flip_any(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """flip(cumsum(flip(x, d), d), d) is a reverse cumulative sum; other flips fold into kernels' reads."""
    src = arg_of(op, 0, "self")
    at = low.producer.get(src["tensor"]) if tensor_desc(src) else None
    dims = arg_of(op, 1, "dims")
    if at is not None and low.ops[at[0]]["op"] in ("aten.cumsum", "aten.cumprod") and len(dims) == 1:
        scan_op = low.ops[at[0]]
        rank = len(shape)
        if norm_dim(int(dims[0]), rank) == norm_dim(int(arg_of(scan_op, 1, "dim")), rank):
            return scan(low, scan_op, at[0], 0, shape, reverse=True)
    return _flip(low, op, index, out_index, shape)


def reshape(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """view/reshape: only instance norm's view(batch_norm(view(x, (1, N*C, ...))), x.shape) is understood."""
    src = arg_of(op, 0, "self")
    at = low.producer.get(src["tensor"]) if tensor_desc(src) else None
    if at is not None and low.ops[at[0]]["op"] == "aten.native_batch_norm" and at[1] == 0:
        bn = low.ops[at[0]]
        inner = arg_of(bn, 0, "input")
        view_at = low.producer.get(inner["tensor"])
        if view_at is not None and low.ops[view_at[0]]["op"] in ("aten.view", "aten._unsafe_view", "aten.reshape"):
            x_desc = arg_of(low.ops[view_at[0]], 0, "self")
            x_shape, in_shape = tuple(x_desc["shape"]), tuple(inner["shape"])
            if (
                tuple(shape) == x_shape
                and len(x_shape) >= 3
                and in_shape[0] == 1
                and in_shape[1] == x_shape[0] * x_shape[1]
                and in_shape[2:] == x_shape[2:]
                and bool(arg_of(bn, 5, "training"))
                and not tensor_desc(arg_of(bn, 1, "weight"))
                and not tensor_desc(arg_of(bn, 2, "bias"))
            ):
                x = low.expr(low.value(x_desc["tensor"], x_desc))
                dims = tuple(range(2, len(x_shape)))
                return normalise(low, x, x_shape, dims, float(arg_of(bn, 7, "eps")), None, None, 0)
    return _generic_reshape(low, op, shape)


def _generic_reshape(low: Lowering, op: dict[str, Any], shape: Any) -> Value:
    """view / reshape: replayed in the forward, with sizes written in terms of the source's sizes where
    the reshape merges or splits whole dims (sizes only a trace can explain are the traced ones)."""
    src = arg_of(op, 0, "self")
    if not tensor_desc(src):
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
    if prod_ints(src) != prod_ints(out):
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
            args.append(run_code(i, i2))
        elif i2 - i == 1:
            big = max(range(j, j2), key=lambda d: out[d])
            others = prod_ints(out[d] for d in range(j, j2) if d != big)
            for d in range(j, j2):
                args.append(_split_code(i, others) if d == big else out[d])
        else:
            args.extend(out[j:j2])
        i, j = i2, j2
    return args


def _split_code(dim: int, others: int) -> Any:
    def code(namer: Namer) -> str:
        return f"{{base}}.shape[{dim}] // {others}"

    return code
