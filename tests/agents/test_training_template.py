"""The template compiler's training candidates: every seed family's backward task gets a forward-and-
backward ``autograd.Function`` candidate that the verifier accepts in backward mode; other ops are named."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

import tasks
from agents.template import NoTemplate, plan_template
from agents.template.training import recognise_training, training_candidate
from service.cli import app
from tasks.backward import backward_task_ids
from verifier import Candidate, Reference, VerifyOptions, verify

TRACE = VerifyOptions(device="cpu")
SEED_FAMILIES = {
    "dwconv2d.convnext_7x7": ("odd", {}),
    "dwconv2d.replknet_31x31": ("tiny", {}),  # 961 taps: unrolled in both dims its sm_90 build took >600 s
    "conv1d.long_causal": ("short_kernel", {}),
    "spmm.csr": ("tiny", {}),
    "fftconv.long_conv": ("tiny", {"SEQ_LEN": 40}),
    "general.linear_gelu": ("odd", {}),
}
"""Per family: the small shape its training candidate is verified on, and overrides that shrink it where
the interpreter is slow (the template's direct long convolution is O(L^2))."""


def _reference(task_id: str):
    shape, overrides = SEED_FAMILIES.get(task_id, (None, {}))
    task = tasks.get(task_id)
    shape = shape or task.shape_names("small")[0]
    reference = task.reference(shapes=[shape])
    if overrides:
        reference = replace(reference, shapes={shape: {**reference.shapes[shape], **overrides}})
    return reference, shape


@pytest.mark.slow
def test_every_backward_task_is_recognised() -> None:
    assert {t.split(".")[0] for t in SEED_FAMILIES} == {t.split(".")[0] for t in backward_task_ids()}
    functions = {}
    for task_id in backward_task_ids():
        reference, shape = _reference(task_id)
        functions[task_id] = recognise_training(plan_template(reference, TRACE, shape).program).source.function
    assert functions["dwconv2d.slak_51x51"] == functions["dwconv2d.replknet_31x31"] == "DepthwiseConv"
    assert functions["spmm.csr"] == "CsrMatmul" and functions["fftconv.long_conv"] == "LongConv"


def test_an_op_without_a_training_template_is_named() -> None:
    reference, shape = _reference("general.softmax")
    with pytest.raises(NoTemplate, match="no training template for softmax"):
        recognise_training(plan_template(reference, TRACE, shape).program)


def test_the_candidate_applies_the_function_with_the_reference_parameters() -> None:
    reference, shape = _reference("general.linear_gelu")
    source = training_candidate(plan_template(reference, TRACE, shape))
    assert "class ModelNew(Model):" in source
    assert "return LinearGelu.apply(x, self.linear.weight, self.linear.bias)" in source
    assert "def backward(ctx, grad_out):" in source


@pytest.mark.slow
@pytest.mark.parametrize("task_id", sorted(SEED_FAMILIES))
def test_the_training_candidate_is_accepted_in_backward_mode(task_id: str) -> None:
    reference, shape = _reference(task_id)
    source = training_candidate(plan_template(reference, TRACE, shape))
    options = VerifyOptions(device="cpu", timeout_s=300, calls_per_trial=2, mode="backward")
    report = verify(reference, Candidate(source, name=f"training-{task_id}"), options)
    assert report.verdict == "accepted", report.reasons
    checks = {c.name: c for c in report.checks}
    assert checks["backward"].passed and checks["values"].passed and checks["no_fallback"].passed


@pytest.mark.slow
def test_kiln_generate_mode_backward_gives_a_verified_training_kernel(tmp_path: Path) -> None:
    reference = tmp_path / "causal.py"
    source = tasks.get("conv1d.long_causal").source
    source = source.replace("SEQ_LEN = 64\n", "SEQ_LEN = 24\n").replace("KERNEL_SIZE = 64\n", "KERNEL_SIZE = 24\n")
    assert "SEQ_LEN = 24" in source and "KERNEL_SIZE = 24" in source
    reference.write_text(source, encoding="utf-8")
    args = ["generate", "--reference", str(reference), "--device", "cpu", "--trials", "1", "--mode", "backward"]
    args += ["--timeout", "600"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["best"]["verdict"] == "accepted" and data["best"]["origin"] == "template"
    assert "CausalConv.apply" in data["best"]["source"]
    assert data["best"]["report"]["mode"] == "backward"


class _Session:
    """What the template proposer's submission uses of a session (the LLM loop's template seed goes through
    the same ``submit_variants``)."""

    def __init__(self, mode: str, reference: object = None, trace_shape: str | None = None) -> None:
        fields = {"verify_options": VerifyOptions(device="cpu", mode=mode), "reference": reference}
        self.request = type("Request", (), {**fields, "trace_shape": trace_shape})()
        self.submitted: list[tuple[str, dict]] = []
        self.notes: list[str] = []

    def submit(self, source: str, origin: str, params: dict, name: str) -> str:
        self.submitted.append((source, params))
        return name

    def emit(self, kind: str, message: str) -> None:
        self.notes.append(message)

    def prepare(self) -> object:
        return type("Prepared", (), {"device": "cpu"})()


def test_the_template_seed_is_the_training_candidate_in_backward_mode() -> None:
    from agents.template.propose import submit_variants

    reference, shape = _reference("spmm.csr")
    plan = plan_template(reference, TRACE, shape)
    session = _Session("backward")
    assert submit_variants(session, plan) == ["template-training"]  # type: ignore[arg-type]
    ((source, params),) = session.submitted
    assert "CsrMatmul.apply(crow_indices, col_indices, values, x)" in source and params["profile"] == "training"
    softmax, softmax_shape = _reference("general.softmax")  # no training template: autograd's joint graph
    other = _Session("both", softmax, softmax_shape)
    assert submit_variants(other, plan_template(softmax, TRACE, softmax_shape)) == ["template-joint"]  # type: ignore[arg-type]
    ((source, params),) = other.submitted
    assert "JointTraining.apply(" in source and params["profile"] == "joint"
    unused = Reference(source=UNUSED_PARAMETER, name="unused")  # neither: both reasons are noted
    third = _Session("backward", unused)
    assert submit_variants(third, plan_template(unused, TRACE)) == []  # type: ignore[arg-type]
    assert third.submitted == [] and "no training template" in third.notes[0]
    assert "the joint graph: the gradient of p_unused is not a tensor" in third.notes[0]


UNUSED_PARAMETER = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(8))
        self.unused = nn.Parameter(torch.ones(3))

    def forward(self, x):
        return torch.relu(x) * self.scale


def get_inputs():
    return [torch.randn(4, 8)]


def get_init_inputs():
    return []
"""


DEPTHWISE_NO_BIAS = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=0, groups=channels, bias=False)

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.randn(2, 4, 12, 12)]


def get_init_inputs():
    return [4, 3]
"""


def test_a_depthwise_convolution_not_of_the_template_s_form_says_what_it_lacks() -> None:
    """KernelBench's depthwise problems (no bias, no padding) get the reason, not just the op's name."""
    from verifier import Reference

    reference = Reference(source=DEPTHWISE_NO_BIAS, name="dw_no_bias")
    with pytest.raises(NoTemplate) as refused:
        recognise_training(plan_template(reference, TRACE).program)
    text = str(refused.value)
    assert "no training template for dwconv: the depthwise 2D training template needs" in text
    assert "a bias parameter (this one has none)" in text and "'same' padding (this one: padding 0/0, 0/0)" in text
