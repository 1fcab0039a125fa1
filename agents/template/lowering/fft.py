"""The FFT causal-convolution pattern: ``irfft(rfft(pad(u)) * rfft(pad(k)))[..., :L]`` lowered to a
causal depthwise convolution node marked ``fft`` (computed by Triton FFT kernels, never ``torch.fft``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.template.ir import Bin, Branch, Leaf, LeafE, Un, Where, expr_leaves, expr_nodes
from agents.template.lowering.common import NoTemplate, Value, arg_of, norm_dim, tensor_desc
from agents.template.lowering.views import view

if TYPE_CHECKING:
    from agents.template.recognise import Lowering


def fft_slice(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """slice(irfft(rfft(pad(a), N) * rfft(pad(b), N)), 0, L): a causal convolution of length L."""
    src = arg_of(op, 0, "self")
    producer = low.producer.get(src["tensor"])
    if producer is None or low.ops[producer[0]]["op"] != "aten._fft_c2r":
        return view(low, op, index, out_index, shape)
    c2r = low.ops[producer[0]]
    rank = len(src["shape"])
    dims, norm, n = arg_of(c2r, 1, "dim"), arg_of(c2r, 2, "normalization"), int(arg_of(c2r, 3, "last_dim_size"))
    slice_dim = norm_dim(int(arg_of(op, 1, "dim", 0)), rank)
    start, end, step = arg_of(op, 2, "start", 0) or 0, arg_of(op, 3, "end"), arg_of(op, 4, "step", 1)
    if [norm_dim(d, rank) for d in dims] != [rank - 1] or slice_dim != rank - 1 or norm != 2 or start or step != 1:
        raise NoTemplate("an FFT pattern other than irfft(rfft(a) * rfft(b))[..., :L] over the last dim")
    prod = arg_of(c2r, 0, "self")
    mul_at = low.producer.get(prod["tensor"])
    if mul_at is None or low.ops[mul_at[0]]["op"] != "aten.mul":
        raise NoTemplate("irfft of something other than a product of two rffts")
    mul = low.ops[mul_at[0]]
    factors = [_fft_factor(low, arg_of(mul, i, name), n) for i, name in ((0, "self"), (1, "other"))]
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
    sig = low.value(sig_desc["tensor"], sig_desc)
    pre = _prologue(sig, sig_shape)
    x = pre if pre is not None else low.operand(sig, sig_shape)
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
    attrs: dict[str, Any] = {"spatial": 1, "fft": True}
    if pre is not None:
        attrs["pre"] = sig
    return low.add_node("dwconv", shape, operands={"x": x}, branches=[branch], attrs=attrs)


def _prologue(value: Value, shape: Any) -> Leaf | None:
    """A signal computed elementwise from tensors of its own shape (the gated convolution's
    ``u * pregate``): the convolution's kernels evaluate it where they read the signal (``attrs["pre"]``)
    instead of an elementwise kernel writing it for them to read. Returns the node's ``x`` operand
    (one of those tensors: the shape and strides the launch reads), or None."""
    if not isinstance(value, Un | Bin | Where):
        return None
    leaves = expr_leaves(value)
    if expr_nodes(value) or not leaves or any(leaf.flip or leaf.shape != tuple(shape) for leaf in leaves):
        return None
    return leaves[0]


def _fft_factor(low: Lowering, desc: Any, n: int) -> tuple[dict[str, Any], list[int]]:
    if not tensor_desc(desc):
        raise NoTemplate("FFT product with a scalar")
    at = low.producer.get(desc["tensor"])
    if at is None or low.ops[at[0]]["op"] != "aten._fft_r2c":
        raise NoTemplate("FFT product of something other than an rfft")
    r2c = low.ops[at[0]]
    src = arg_of(r2c, 0, "self")
    rank = len(src["shape"])
    dims, norm, onesided = arg_of(r2c, 1, "dim"), arg_of(r2c, 2, "normalization"), arg_of(r2c, 3, "onesided")
    if [norm_dim(d, rank) for d in dims] != [rank - 1] or norm != 0 or not onesided:
        raise NoTemplate("rfft other than an unnormalised one-sided transform over the last dim")
    pad_at = low.producer.get(src["tensor"])
    if pad_at is not None and low.ops[pad_at[0]]["op"] == "aten.constant_pad_nd":
        pad_op = low.ops[pad_at[0]]
        pad = list(arg_of(pad_op, 1, "pad"))
        if pad[0] != 0 or any(pad[2:]) or (arg_of(pad_op, 2, "value", 0) or 0) != 0:
            raise NoTemplate("rfft input padded other than with zeros at the end")
        src = arg_of(pad_op, 0, "self")
    if src["shape"][-1] > n:
        raise NoTemplate("rfft truncates its input")
    return src, list(src["shape"])
