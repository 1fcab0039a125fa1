"""The template compiler's backward from autograd's joint graph (``agents/template/training/joint.py``):
the forward and every gradient lowered by the forward's own lowering, one ``autograd.Function``
candidate that the verifier accepts in backward mode; what it cannot lower is named."""

from __future__ import annotations

import pytest

from agents import GenerationRequest, generate
from agents.template import NoTemplate, plan_template
from agents.template.training.joint import joint_candidate, trace_joint
from agents.template.tuning import profiles_for
from verifier import Candidate, Reference, VerifyOptions, verify

TRACE = VerifyOptions(device="cpu")
BACKWARD = VerifyOptions(device="cpu", timeout_s=300, calls_per_trial=2, mode="backward")


def _source(forward: str, inputs: str, init: str = "[]", init_body: str = "", args: str = "") -> str:
    return f"""
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self{args}):
        super().__init__()
{init_body or "        pass"}

    def forward(self, x):
        return {forward}


def get_inputs():
    return [{inputs}]


def get_init_inputs():
    return {init}
"""


OPS = {
    "gelu": _source("torch.nn.functional.gelu(x)", "torch.randn(4, 37)"),
    "linear": _source(
        "self.linear(x)", "torch.randn(5, 24)", "[24, 10]", "        self.linear = nn.Linear(i, o)", ", i, o"
    ),
    "sum_dim": _source("torch.sum(x, dim=1, keepdim=True)", "torch.randn(4, 10, 12)"),
    # the gradient's grad_output has the output's rank: the forward's output dtype must not come from it
    "mean_dim": _source("torch.mean(x, dim=1)", "torch.randn(4, 12, 10)"),
    "softmax": _source("torch.softmax(x, dim=1)", "torch.randn(6, 50)"),
    # hardtanh's backward mask: bitwise_or of two bool comparisons; softsign's: aten.sgn
    "hardtanh": _source("torch.nn.functional.hardtanh(x, min_val=-0.5, max_val=0.5)", "torch.randn(4, 40)"),
    "softsign": _source("x / (1 + torch.abs(x))", "torch.randn(4, 40)"),
    "relu_scale": _source(  # relu's backward: where(x <= 0, scalar_tensor(0), grad); the scale's: a sum
        "torch.relu(x) * self.scale", "torch.randn(4, 8)", init_body="        self.scale = nn.Parameter(torch.ones(8))"
    ),
}


def _candidate(name: str) -> tuple[Reference, str]:
    reference = Reference(source=OPS[name], name=name)
    plan = plan_template(reference, TRACE)
    joint = trace_joint(reference, TRACE, plan.program.input_names)
    profile = next(iter(profiles_for("cpu").values()))
    return reference, joint_candidate(joint, plan.model, profile, name)


def test_the_linear_candidate_saves_the_inputs_and_returns_every_gradient() -> None:
    _reference, source = _candidate("linear")
    assert "return JointTraining.apply(x, self.linear.weight, self.linear.bias)" in source
    assert "ctx.save_for_backward(x, p_linear_weight, p_linear_bias,)" in source
    assert "def backward(ctx, grad_out0):" in source and "return g0, g1, g2," in source
    backward = source[source.index("def backward") : source.index("class ModelNew")]
    assert "torch.mm" not in backward and "_matmul[" in backward  # the weight and input gradients are kernels


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OPS))
def test_the_joint_candidate_is_accepted_in_backward_mode(name: str) -> None:
    reference, source = _candidate(name)
    report = verify(reference, Candidate(source, name=f"joint-{name}"), BACKWARD)
    assert report.verdict == "accepted", report.reasons
    checks = {c.name: c for c in report.checks}
    assert checks["backward"].passed and checks["values"].passed and checks["no_fallback"].passed


def test_an_unused_parameter_is_named() -> None:
    source = _source(
        "torch.relu(x) * self.scale",
        "torch.randn(4, 8)",
        init_body="        self.scale = nn.Parameter(torch.ones(8))\n        self.unused = nn.Parameter(torch.ones(3))",
    )
    reference = Reference(source=source, name="unused")
    plan = plan_template(reference, TRACE)
    with pytest.raises(NoTemplate, match="the gradient of p_unused is not a tensor"):
        trace_joint(reference, TRACE, plan.program.input_names)


@pytest.mark.slow
def test_generate_in_backward_mode_verifies_the_joint_candidate_when_no_training_template_applies() -> None:
    request = GenerationRequest(reference=Reference(source=OPS["softmax"], name="softmax"), verify_options=BACKWARD)
    result = generate(request)
    assert result.best is not None and result.best.report.verdict == "accepted"
    assert result.best.params["profile"] == "joint" and "JointTraining.apply(x)" in result.best.source


SCALED = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, A, s):
        return A * s


def get_inputs():
    return [torch.randn(6, 5), 3.5]


def get_init_inputs():
    return []
"""


@pytest.mark.slow
def test_a_number_input_is_kept_on_ctx_and_gets_no_gradient() -> None:
    reference = Reference(source=SCALED, name="scaled")
    plan = plan_template(reference, TRACE)
    joint = trace_joint(reference, TRACE, plan.program.input_names)
    source = joint_candidate(joint, plan.model, next(iter(profiles_for("cpu").values())), "scaled")
    assert "ctx.save_for_backward(A,)" in source and "ctx.numbers = (s,)" in source
    assert "return g0, None," in source
    report = verify(reference, Candidate(source, name="joint-scaled"), BACKWARD)
    assert report.verdict == "accepted", report.reasons
