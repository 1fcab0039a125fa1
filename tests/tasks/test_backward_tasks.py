"""The seed families' backward tasks: training-step rooflines, references that give informative
gradients on every small shape, and per family a hand-written honest training kernel verified in
backward mode (the template compiler does not generate backward kernels yet)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

import tasks
from tasks.backward import STEP_COSTS, backward_roofline, backward_task, backward_task_ids
from tasks.execute import load_module
from tasks.hardware import HARDWARE
from tasks.model import TaskError
from tasks.roofline import roofline
from verifier import Candidate, VerifyOptions, verify
from verifier.backward import training_call
from verifier.nondegenerate import degeneracy

KERNELS = Path(__file__).parent / "backward"


def test_every_seed_family_has_a_backward_task() -> None:
    ids = backward_task_ids()
    assert {t.split(".")[0] for t in ids} == {"dwconv2d", "conv1d", "spmm", "fftconv", "general"}
    assert {"dwconv2d.convnext_7x7", "dwconv2d.replknet_31x31", "dwconv2d.slak_51x51"} <= set(ids)
    assert {"conv1d.long_causal", "spmm.csr", "fftconv.long_conv", "general.linear_gelu"} <= set(ids)
    for task_id in ids:
        assert tasks.find(task_id) is not None, task_id


@pytest.mark.parametrize("task_id", sorted(STEP_COSTS))
def test_a_training_step_costs_more_than_its_forward_on_every_shape_and_profile(task_id: str) -> None:
    task = tasks.get(task_id)
    for hardware in HARDWARE.values():
        for shape in task.shapes:
            step = backward_roofline(task, shape, hardware.id)
            forward = roofline(task, shape, hardware.id)
            assert step.flops > 1.9 * forward.flops, (task_id, shape.name)
            assert step.min_bytes > forward.min_bytes
            assert step.floor_ms > forward.floor_ms > 0
            assert step.tensor_flops <= step.flops


def test_the_depthwise_step_counts_three_convolutions_and_four_activations() -> None:
    task = tasks.get("dwconv2d.replknet_31x31")
    p = {"BATCH": 2, "CHANNELS": 3, "HEIGHT": 5, "WIDTH": 7, "KERNEL_H": 31, "KERNEL_W": 31, "DTYPE": "float32"}
    act, taps = 2 * 3 * 5 * 7, 31 * 31
    cost = STEP_COSTS[task.id]
    assert cost.flops(p) == act * (2 * taps + 1) + 4 * act * taps + act
    assert cost.min_bytes(p) == 4 * (4 * act + 2 * 3 * (taps + 1))


def test_a_task_without_a_step_model_is_named() -> None:
    with pytest.raises(TaskError, match="no backward cost model"):
        backward_task(tasks.get("general.softmax"))


@pytest.mark.parametrize("task_id", sorted(STEP_COSTS))
def test_every_small_shape_gives_informative_gradients(task_id: str) -> None:
    """What the verifier's reference worker computes in backward mode, in process: every gradient exists
    and is neither constant nor ~zero (a kernel returning a constant could not pass)."""
    task = tasks.get(task_id)
    for shape in task.shapes_in("small"):
        module = load_module(task.source, task.params(shape))
        torch.manual_seed(0)
        model = module.Model(*module.get_init_inputs())
        torch.manual_seed(1)
        inputs = list(module.get_inputs())
        call_inputs, (_outputs, grad_inputs, grad_params), layout = training_call(model, inputs, inputs, None, 7)
        assert len(call_inputs) == len(inputs) + len(layout.grad_outputs)
        assert grad_inputs, (task_id, shape.name)
        for name, grad in zip(layout.labels(1)[1:], (*grad_inputs, *grad_params), strict=True):
            assert degeneracy(grad) is None, (task_id, shape.name, name)
        if task_id == "spmm.csr":
            assert layout.grad_inputs == (2, 3)  # the values and the dense features
        if task_id == "fftconv.long_conv":
            assert layout.grad_inputs == (0, 1) and layout.params == ("d",)


HONEST = {
    "dwconv2d.convnext_7x7": ("dwconv2d_train.py", "odd", {}),
    "conv1d.long_causal": ("conv1d_train.py", "short_kernel", {}),
    "spmm.csr": ("spmm_train.py", "tiny", {}),
    "fftconv.long_conv": ("fftconv_train.py", "tiny", {"SEQ_LEN": 40}),
    "general.linear_gelu": ("linear_gelu_train.py", "odd", {}),
}
"""Per seed family: a hand-written honest training kernel (a torch.autograd.Function), the small shape it is
verified on, and overrides that shrink it further where the interpreter is slow (the direct long convolution
is O(L^2))."""


def test_every_seed_family_has_an_honest_training_kernel() -> None:
    assert {t.split(".")[0] for t in HONEST} == {t.split(".")[0] for t in backward_task_ids()}


@pytest.mark.slow
@pytest.mark.parametrize("task_id", sorted(HONEST))
def test_an_honest_training_kernel_is_accepted_in_backward_mode(task_id: str) -> None:
    filename, shape, overrides = HONEST[task_id]
    task = tasks.get(task_id)
    reference = task.reference(shapes=[shape])
    if overrides:
        reference = replace(reference, shapes={shape: {**reference.shapes[shape], **overrides}})
    options = VerifyOptions(device="cpu", timeout_s=300, calls_per_trial=2, mode="backward")
    source = (KERNELS / filename).read_text()
    report = verify(reference, Candidate(source, name=filename), options)
    assert report.verdict == "accepted", report.reasons
    checks = {c.name: c for c in report.checks}
    assert checks["backward"].passed and checks["values"].passed and checks["no_fallback"].passed
