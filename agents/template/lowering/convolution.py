"""Convolutions (``aten.convolution``): depthwise 1D/2D with their padding rules, 1x1 (pointwise)
convolutions and direct convolutions over 1-3 spatial dims; transposed ones go to ``transposed_convolution``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.template.ir import Branch
from agents.template.lowering.common import NoTemplate, Value, arg_of, tensor_desc
from agents.template.lowering.transposed_convolution import transposed_convolution

if TYPE_CHECKING:
    from agents.template.recognise import Lowering


def _padding_rule(left: int, right: int, kernel: int, dilation: int, stride: int) -> tuple[str, int, int]:
    span = dilation * (kernel - 1)
    if stride == 1 and left == right == span // 2 and span % 2 == 0:
        return ("same", left, right)
    if left == span and right == 0 and span > 0:
        return ("causal", left, right)
    if left == right == 0:
        return ("valid", 0, 0)
    return ("const", left, right)


def convolution(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    x_desc, w_desc = arg_of(op, 0, "input"), arg_of(op, 1, "weight")
    stride, padding, dilation = (
        list(arg_of(op, 3, "stride")),
        list(arg_of(op, 4, "padding")),
        list(arg_of(op, 5, "dilation")),
    )
    transposed, groups = bool(arg_of(op, 6, "transposed")), int(arg_of(op, 8, "groups"))
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
        return transposed_convolution(low, op, shape, spatial, kernel, groups)
    if producer is not None and low.ops[producer[0]]["op"] == "aten.constant_pad_nd":
        pad_op = low.ops[producer[0]]
        pad = list(arg_of(pad_op, 1, "pad"))
        if (arg_of(pad_op, 2, "value", 0) or 0) != 0:
            raise NoTemplate("non-zero constant padding")
        pad += [0] * (2 * rank - len(pad))
        for d in range(spatial):  # pad lists (left, right) from the last dim backwards
            pads_left[spatial - 1 - d] += pad[2 * d]
            pads_right[spatial - 1 - d] += pad[2 * d + 1]
        if any(pad[2 * d] or pad[2 * d + 1] for d in range(spatial, rank)):
            raise NoTemplate("padding of batch or channel dims")
        x_desc = arg_of(pad_op, 0, "self")
    x = low.operand(low.value(x_desc["tensor"], x_desc), x_desc["shape"])
    weight = low.leaf_arg(op, 1, "weight")
    if weight.flip and any(d < -spatial for d in weight.flip):
        raise NoTemplate("flipped channel dims of a convolution weight")
    bias_desc = arg_of(op, 2, "bias")
    bias = low.leaf_arg(op, 2, "bias") if tensor_desc(bias_desc) else None
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
