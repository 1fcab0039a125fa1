"""CSR sparse x dense products (``aten.mm`` of a sparse CSR tensor)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents.template.lowering.common import NoTemplate, Value

if TYPE_CHECKING:
    from agents.template.recognise import Lowering


def spmm(low: Lowering, sparse_op: dict[str, Any], dense_desc: dict[str, Any], shape: Any) -> Value:
    layout = str(sparse_op.get("kwargs", {}).get("layout", ""))
    if "csr" not in layout:
        raise NoTemplate(f"sparse layout {layout or 'unknown'} (only CSR has a template)")
    crow = low.leaf_arg(sparse_op, 0, "compressed_indices")
    col = low.leaf_arg(sparse_op, 1, "plain_indices")
    values = low.leaf_arg(sparse_op, 2, "values")
    dense = low.operand(low.value(dense_desc["tensor"], dense_desc), dense_desc["shape"])
    return low.add_node("spmm", shape, operands={"crow": crow, "col": col, "values": values, "x": dense})
