"""Recognition and emission without a sandbox: synthetic traces, static reading, model extraction."""

from __future__ import annotations

from typing import Any

import pytest

import tasks
from agents.template.emit import emit_candidate
from agents.template.model_source import extract_model
from agents.template.recognise import NoTemplate, lower_trace
from agents.template.static_csr import recognise_csr_statically
from agents.template.tuning import CPU_PROFILES
from verifier import OpTrace
from verifier.static_screen import screen


def _t(label: str, shape: list[int], dtype: str = "float32") -> dict[str, Any]:
    return {"tensor": label, "shape": shape, "dtype": dtype, "stride": []}


def _trace(
    ops: list[dict[str, Any]], inputs: list[dict[str, Any]], params: dict[str, Any], out: dict[str, Any]
) -> OpTrace:
    return OpTrace(
        ops=ops, inputs=inputs, init_inputs=[], parameters=params, outputs=[out], output_labels=[out["tensor"]]
    )


def _op(name: str, args: list[Any], outputs: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return {"op": name, "overload": "default", "args": args, "kwargs": kwargs, "outputs": outputs}


def _gcn_trace(added: dict[str, Any] | None = None) -> OpTrace:
    """What the trace of gcn.layer looks like once the tracer can describe CSR tensors: A (X W^T) + b, or
    A (X W^T) + ``added`` (a tensor of the trace: ``op1.out0`` is X W^T)."""
    crow, col, val, x = (
        _t("input0", [65], "int64"),
        _t("input1", [313], "int64"),
        _t("input2", [313]),
        _t("input3", [64, 32]),
    )
    w, b = _t("param:linear.weight", [16, 32]), _t("param:linear.bias", [16])
    ops = [
        _op("aten.t", [w], [_t("op0.out0", [32, 16])]),
        _op("aten.mm", [x, _t("op0.out0", [32, 16])], [_t("op1.out0", [64, 16])]),
        _op(
            "aten.sparse_compressed_tensor",
            [crow, col, val, [64, 64]],
            [_t("op2.out0", [64, 64])],
            layout="torch.sparse_csr",
        ),
        _op("aten.mm", [_t("op2.out0", [64, 64]), _t("op1.out0", [64, 16])], [_t("op3.out0", [64, 16])]),
        _op("aten.add", [_t("op3.out0", [64, 16]), added or b], [_t("op4.out0", [64, 16])]),
    ]
    return _trace(ops, [crow, col, val, x], {"linear.weight": w, "linear.bias": b}, _t("op4.out0", [64, 16]))


def test_sparse_trace_lowers_to_spmm_with_bias_epilogue() -> None:
    program = lower_trace(_gcn_trace(), ["c", "i", "v", "x"])
    # A (X W^T) + b is one node: the aggregation, the projection and the bias in one kernel
    (node,) = program.nodes
    assert node.kind == "spmm_mm" and node.operands["x"].root == "input:3"  # type: ignore[union-attr]
    assert node.operands["w"].root == "param:linear.weight"  # type: ignore[union-attr]
    assert program.node(program.output).epilogue is not None  # the bias add was fused
    assert program.dtype_from is not None and program.dtype_from.root == "input:3"
    assert program.family == "spmm"


def test_a_projection_read_elsewhere_is_not_fused_into_the_aggregation() -> None:
    """A (X W^T) + X W^T: the product is read twice, so it is computed once and stays a matmul node."""
    program = lower_trace(_gcn_trace(added=_t("op1.out0", [64, 16])), ["c", "i", "v", "x"])
    assert [n.kind for n in program.nodes] == ["matmul", "spmm", "ewise"]  # the add reads both products


def test_unknown_op_is_no_template_naming_it() -> None:
    x = _t("input0", [4, 4])
    ops = [_op("aten.fmod", [x, 3.0], [_t("op0.out0", [4, 4])])]
    with pytest.raises(NoTemplate, match=r"aten\.fmod"):
        lower_trace(_trace(ops, [x], {}, _t("op0.out0", [4, 4])), ["x"])


def test_grouped_convolution_is_not_guessed() -> None:
    x, w = _t("input0", [1, 8, 6, 6]), _t("param:conv.weight", [8, 2, 3, 3])
    ops = [
        _op("aten.convolution", [x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 4], [_t("op0.out0", [1, 8, 6, 6])])
    ]
    program = lower_trace(_trace(ops, [x], {"conv.weight": w}, _t("op0.out0", [1, 8, 6, 6])), ["x"])
    # a grouped (not depthwise) convolution is the direct convolution template with its groups, not a dwconv
    assert [n.kind for n in program.nodes] == ["conv"] and program.nodes[0].attrs["groups"] == 4
    # transposed: the same template reading the (CI, CO / groups, K...) weight, with its output padding
    transposed = [_op("aten.convolution", [x, w, None, [1, 1], [1, 1], [1, 1], True, [0, 0], 4], ops[0]["outputs"])]
    program = lower_trace(_trace(transposed, [x], {"conv.weight": w}, _t("op0.out0", [1, 8, 6, 6])), ["x"])
    (node,) = program.nodes
    assert node.kind == "conv" and node.attrs["transposed"] and node.attrs["output_padding"] == [0, 0]


def test_padding_rules_follow_the_kernel_size() -> None:
    x, w = _t("input0", [1, 4, 10, 10]), _t("param:conv.weight", [4, 1, 7, 7])
    conv = _op(
        "aten.convolution", [x, w, None, [1, 1], [9, 9], [3, 3], False, [0, 0], 4], [_t("op0.out0", [1, 4, 10, 10])]
    )
    program = lower_trace(_trace([conv], [x], {"conv.weight": w}, _t("op0.out0", [1, 4, 10, 10])), ["x"])
    (branch,) = program.nodes[0].branches
    assert [r[0] for r in branch.padding] == ["same", "same"] and branch.dilation == (3, 3)


def test_static_reading_of_the_gcn_layer_and_its_emitted_source_passes_the_screen() -> None:
    source = tasks.get("gcn.layer").source
    model = extract_model(source)
    program = recognise_csr_statically(source, model.forward_args)
    assert [n.kind for n in program.nodes] == ["spmm_mm"]
    assert program.node(program.output).epilogue is not None
    candidate = emit_candidate(program, model, CPU_PROFILES["cpu"], "gcn.layer", "cpu")
    assert screen(candidate) == []
    assert "class ModelNew(Model)" in candidate and "sparse_csr_tensor" not in candidate
    assert "def power_law_csr" not in candidate  # input generation is not part of the module


def test_static_reading_refuses_what_it_does_not_understand() -> None:
    source = tasks.get("spmm.csr").source.replace("y = a @ x.float()", "y = (a @ x.float()).relu()")
    model = extract_model(source)
    with pytest.raises(NoTemplate):
        recognise_csr_statically(source, model.forward_args)


def test_model_extraction_drops_forward_and_keeps_helpers() -> None:
    source = """
import torch
import torch.nn as nn
import numpy as np

SCALE = 2

def make_weight(n):
    return torch.randn(n) * SCALE

class Model(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.w = nn.Parameter(make_weight(n))

    def forward(self, x):
        return x * self.w

def get_inputs():
    return [torch.randn(4)]

def get_init_inputs():
    return [4]
"""
    model = extract_model(source)
    assert model.forward_args == ["x"]
    assert "def forward" not in model.support
    assert "def make_weight" in model.support and "SCALE = 2" in model.support
    assert "numpy" not in model.support and "get_inputs" not in model.support
