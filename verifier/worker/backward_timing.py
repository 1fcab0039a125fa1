"""GPU timing of the reference's training step (backward mode): forward with autograd, then backward.

The timed region is what a training step spends on the op: the forward (recording the graph) and
``torch.autograd.grad`` of the call's ``grad_output``s with respect to the inputs and parameters
whose gradients are checked, the same protocol as the forward's (:func:`timing.time_calls`).
``torch.compile``'s figure compiles the module (AOT autograd gives it a compiled backward) and
times the same step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from verifier.backward import BackwardLayout
from verifier.worker.timing import METHOD, CudaDevice, timed_phase


def _step(model: Callable[..., Any], inputs: list[Any], layout: BackwardLayout, params: list[Any]) -> Callable[[], Any]:
    forward_inputs = list(inputs[: layout.forward_inputs])
    grad_outputs = list(inputs[layout.forward_inputs :])
    for i in layout.grad_inputs:
        forward_inputs[i] = forward_inputs[i].detach().requires_grad_(True)
    wrt = [forward_inputs[i] for i in layout.grad_inputs] + params

    def flat(value: Any) -> list[Any]:
        if isinstance(value, (list, tuple)):
            return [x for v in value for x in flat(v)]
        return [value]

    def step() -> Any:
        with torch.enable_grad():
            out = flat(model(*forward_inputs))
            return torch.autograd.grad(
                [out[j] for j in layout.grad_outputs], wrt, grad_outputs=grad_outputs, allow_unused=True
            )

    return step


def time_training_step(
    model: torch.nn.Module, inputs: list[Any], layout_dict: dict[str, Any], request: dict[str, Any]
) -> dict[str, Any]:
    """Eager and torch.compile medians of the reference's training step on the first call's inputs, with the
    same protocol, fields and pinned float32 precision as the forward's (:func:`timing.time_reference`)."""
    from verifier import precision

    layout = BackwardLayout.from_dict(layout_dict)
    named = dict(model.named_parameters())
    params = [named[n] for n in layout.params]
    warmup, runs = int(request["warmup_runs"]), int(request["runs"])
    device = CudaDevice()
    with precision.pinned(precision.BASELINE) as fp32:
        step = _step(model, inputs, layout, params)
        eager = timed_phase(lambda _: step(), warmup, runs, device)
        result: dict[str, Any] = {
            **eager.describe(),
            "eager_ms": eager.median_ms,
            "compiled_ms": None,
            "compile_error": None,
            "runs": runs,
            "method": METHOD + "; forward with autograd plus backward (torch.autograd.grad)",
            "device_name": torch.cuda.get_device_name(),
            "fp32_precision": fp32,
        }
        if request.get("compare_compile", True):
            try:
                compiled_step = _step(torch.compile(model), inputs, layout, params)
                times = timed_phase(lambda _: compiled_step(), max(warmup, 3), runs, device)
                result["compiled_ms"] = times.median_ms
            except Exception as e:
                result["compile_error"] = f"{type(e).__name__}: {e}"[:500]
    return result
