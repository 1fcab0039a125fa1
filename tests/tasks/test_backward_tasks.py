"""The seed families' backward tasks: training-step rooflines and references that give informative
gradients on every small shape (their template-compiled training kernels: tests/agents/test_training_template.py)."""

from __future__ import annotations

import pytest
import torch

import tasks
from tasks.backward import STEP_COSTS, backward_roofline, backward_task, backward_task_ids
from tasks.execute import load_module
from tasks.hardware import HARDWARE
from tasks.model import TaskError
from tasks.roofline import roofline
from verifier.backward import training_call
from verifier.nondegenerate import degeneracy


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
