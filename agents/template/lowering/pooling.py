"""Max and average pooling over 1-3 spatial dims."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.template.ir import Leaf
from agents.template.lowering.common import NoTemplate, Value, arg_of, input_shape

if TYPE_CHECKING:
    from agents.template.recognise import Lowering


def pool(low: Lowering, op: dict[str, Any], index: int, out_index: int, shape: Any) -> Value:
    """max_pool{1,2,3}d (values only) and avg_pool{1,2,3}d."""
    name = op["op"]
    if out_index:
        raise NoTemplate(f"{name} indices are used")
    in_shape = input_shape(op)
    sd = len(in_shape) - 2
    if sd not in (1, 2, 3):
        raise NoTemplate(f"{name} of a rank-{len(in_shape)} input")

    def per_dim(value: Any, default: Any) -> list[int]:
        if value is None or (isinstance(value, list | tuple) and not value):
            value = default
        if isinstance(value, int):
            return [value] * sd
        return [int(v) for v in value] * (sd if len(value) == 1 else 1)

    kernel = per_dim(arg_of(op, 1, "kernel_size"), None)
    stride = per_dim(arg_of(op, 2, "stride"), kernel)
    padding = per_dim(arg_of(op, 3, "padding", 0), 0)
    attrs: dict[str, Any] = {"spatial": sd, "kernel": kernel, "stride": stride, "padding": padding}
    if "max_pool" in name:
        dilation = per_dim(arg_of(op, 4, "dilation", 1), 1)
        attrs.update(op="max", dilation=dilation, ceil_mode=bool(arg_of(op, 5, "ceil_mode")))
    else:
        attrs.update(
            op="avg",
            dilation=[1] * sd,
            ceil_mode=bool(arg_of(op, 4, "ceil_mode")),
            count_include_pad=bool(arg_of(op, 5, "count_include_pad", True)),
            divisor=arg_of(op, 6, "divisor_override"),
        )
    x = low.operand(low.tensor_arg(op, 0, "self"), in_shape)
    if isinstance(x, Leaf) and x.flip:
        raise NoTemplate("pooling of a flipped tensor")
    return low.add_node("pool", shape, operands={"x": x}, attrs=attrs)
