"""Transposed convolutions over 1-3 spatial dims."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.template.lowering.common import NoTemplate, Value, arg_of, tensor_desc

if TYPE_CHECKING:
    from agents.template.recognise import Lowering


def transposed_convolution(
    low: Lowering, op: dict[str, Any], shape: Any, spatial: int, kernel: list[int], groups: int
) -> Value:
    """A transposed convolution (weight ``(CI, CO / groups, K...)``): the ``conv`` node, ``transposed``."""
    x_desc = arg_of(op, 0, "input")
    weight = low.leaf_arg(op, 1, "weight")
    if weight.flip:
        raise NoTemplate("a flipped weight in a transposed convolution")
    bias = low.leaf_arg(op, 2, "bias") if tensor_desc(arg_of(op, 2, "bias")) else None
    padding = [int(v) for v in arg_of(op, 4, "padding")]
    attrs = {
        "spatial": spatial,
        "kernel": kernel,
        "stride": [int(v) for v in arg_of(op, 3, "stride")],
        "dilation": [int(v) for v in arg_of(op, 5, "dilation")],
        "pad_left": padding,
        "pad_right": padding,
        "output_padding": [int(v) for v in arg_of(op, 7, "output_padding")],
        "groups": groups,
        "transposed": True,
    }
    x = low.operand(low.value(x_desc["tensor"], x_desc), x_desc["shape"])
    return low.add_node("conv", shape, operands={"x": x, "weight": weight, "bias": bias}, attrs=attrs)
