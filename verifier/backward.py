"""Backward mode: what a training call of the reference computes, and how its gradients are judged.

In backward mode every call is a training step of the op: the forward with autograd on fresh
inputs, then the backward on a fresh random ``grad_output`` per differentiable output. The
reference worker computes it with autograd (:func:`training_call`); the candidate's planner records
the same step on fake tensors (:mod:`verifier.plan.record`) and the kernel runner executes it on the
data. A call's inputs are then ``[*inputs, *grad_outputs]`` and its outputs
``(outputs, (input gradients...), (parameter gradients...))``: the rest of the pipeline (plans,
checks, runner, comparison) is the forward's.

Gradients are compared with the dtype's tolerance, its absolute part scaled to the reduction
length (:func:`gradient_tolerance`): a gradient element sums many products, and its absolute
error grows with the square root of how many.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from verifier.spec import Tolerance

GRAD_SEED_SALT = 0x5EED_BACC
"""Mixed into a call's input seed to draw its ``grad_output``s (never sent to the candidate)."""
REFERENCE_LENGTH = 1024
"""Reduction length the default tolerances were chosen for (a forward's typical dot or window)."""
MAX_SCALE = 8.0
"""The most ``atol`` is widened for long reductions (a bound that grows without limit admits anything)."""


@dataclass(frozen=True)
class BackwardLayout:
    """Where a training call's pieces sit: inputs ``[*forward inputs, *grad_outputs]``, outputs
    ``(forward outputs, input gradients, parameter gradients)``."""

    forward_inputs: int
    """How many of the call's inputs are the forward's (the rest are ``grad_output``s)."""
    grad_inputs: tuple[int, ...]
    """Positions of the forward inputs whose gradients are checked."""
    grad_outputs: tuple[int, ...]
    """Positions (among the flattened forward outputs) that get a ``grad_output``."""
    params: tuple[str, ...] = field(default_factory=tuple)
    """The reference's parameters (by name) whose gradients are checked, in order."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "forward_inputs": self.forward_inputs,
            "grad_inputs": list(self.grad_inputs),
            "grad_outputs": list(self.grad_outputs),
            "params": list(self.params),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackwardLayout:
        return cls(
            forward_inputs=int(data["forward_inputs"]),
            grad_inputs=tuple(int(i) for i in data["grad_inputs"]),
            grad_outputs=tuple(int(i) for i in data["grad_outputs"]),
            params=tuple(str(p) for p in data.get("params", [])),
        )

    def labels(self, outputs: int) -> list[str]:
        """Names of the leaves of a training call's outputs, for failure messages."""
        names = [f"output {j}" if outputs > 1 else "output" for j in range(outputs)]
        names += [f"gradient of input {i}" for i in self.grad_inputs]
        names += [f"gradient of parameter `{p}`" for p in self.params]
        return names


def _flat(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flat(v)]
    return [value]


def grad_input_positions(inputs: list[Any], chosen: tuple[int, ...] | None) -> tuple[int, ...]:
    """The forward inputs whose gradients are checked: ``chosen`` (the reference's ``grad_inputs``), else
    every floating-point tensor input."""
    floating = [
        i for i, x in enumerate(inputs) if isinstance(x, torch.Tensor) and (x.is_floating_point() or x.is_complex())
    ]
    if chosen is None:
        return tuple(floating)
    wrong = [i for i in chosen if i not in floating]
    if wrong:
        raise ValueError(f"grad_inputs names input(s) {wrong}, which are not floating-point tensors")
    return tuple(sorted(set(chosen)))


def training_call(
    model: torch.nn.Module,
    inputs: list[Any],
    device_inputs: list[Any],
    chosen: tuple[int, ...] | None,
    input_seed: int,
) -> tuple[list[Any], tuple[Any, ...], BackwardLayout]:
    """One training call of the reference: the call's inputs (``[*inputs, *grad_outputs]``, on the
    host), its outputs ``(outputs, input gradients, parameter gradients)`` (on the host) and the
    layout. ``grad_output``s are drawn from ``input_seed`` mixed with a salt; a gradient autograd says
    is unused is zeros."""
    from verifier.worker.loading import to_device

    positions = grad_input_positions(inputs, chosen)
    leaves = list(device_inputs)
    for i in positions:
        leaves[i] = device_inputs[i].detach().requires_grad_(True)
    params = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    with torch.enable_grad():
        outputs = model(*leaves)
    flat_out = _flat(outputs)
    targets = [
        j
        for j, o in enumerate(flat_out)
        if isinstance(o, torch.Tensor) and o.requires_grad and (o.is_floating_point() or o.is_complex())
    ]
    if not targets:
        raise ValueError("backward mode: no output of the reference depends on an input or parameter with a gradient")
    generator = torch.Generator().manual_seed((input_seed ^ GRAD_SEED_SALT) & ((1 << 63) - 1))
    grad_outputs = [torch.randn(flat_out[j].shape, dtype=flat_out[j].dtype, generator=generator) for j in targets]
    wrt = [leaves[i] for i in positions] + [p for _n, p in params]
    grads = torch.autograd.grad(
        [flat_out[j] for j in targets],
        wrt,
        grad_outputs=to_device(grad_outputs, flat_out[targets[0]].device.type),
        allow_unused=True,
    )
    grads = [torch.zeros_like(w) if g is None else g for g, w in zip(grads, wrt, strict=True)]
    host = to_device([g.detach() for g in grads], "cpu")
    layout = BackwardLayout(
        forward_inputs=len(inputs),
        grad_inputs=positions,
        grad_outputs=tuple(targets),
        params=tuple(n for n, _p in params),
    )
    detached = _detach(to_device(outputs, "cpu"))
    result = (detached, tuple(host[: len(positions)]), tuple(host[len(positions) :]))
    return [*inputs, *grad_outputs], result, layout


def _detach(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, tuple):
        return tuple(_detach(v) for v in value)
    if isinstance(value, list):
        return [_detach(v) for v in value]
    return value


def leaf_judging(input_set: Any) -> tuple[list[str], list[int]] | None:
    """For a training call's :class:`~verifier.reference_run.InputSet`: each output leaf's name and
    reduction length (1 for the forward's outputs); None for a forward call."""
    layout: BackwardLayout | None = getattr(input_set, "backward", None)
    if layout is None:
        return None
    outputs, grad_inputs, grad_params = input_set.outputs
    forward_leaves = len(_flat(outputs))
    grad_outputs = [t for t in input_set.inputs[layout.forward_inputs :] if isinstance(t, torch.Tensor)]
    lengths = [1] * forward_leaves + [reduction_length(g, grad_outputs) for g in (*grad_inputs, *grad_params)]
    return layout.labels(forward_leaves), lengths


def in_training_terms(message: str, mode: str) -> str:
    """A plan check's message as it applies to a training call in backward mode (the plan holds the
    forward and the backward: a framework op may be in either)."""
    if mode != "backward":
        return message
    return message.replace("the forward runs", "the training step (its forward or its backward) runs")


def reduction_length(gradient: torch.Tensor, grad_outputs: list[torch.Tensor]) -> int:
    """A conservative estimate of how many products one element of ``gradient`` sums: the elements of
    the ``grad_output``s per gradient element (exact for a weight gradient's batch and spatial sum
    divided by its window; an input gradient's window is not counted, so its bound is not widened)."""
    total = sum(g.numel() for g in grad_outputs)
    return max(1, total // max(1, gradient.numel()))


def gradient_tolerance(base: Tolerance | None, length: int) -> Tolerance | None:
    """``base`` with ``atol`` widened by ``sqrt(length / REFERENCE_LENGTH)`` (at least 1, at most
    ``MAX_SCALE``); ``rtol`` and the relative norm bound stay as they are. None (exact) stays None."""
    if base is None:
        return None
    scale = min(MAX_SCALE, max(1.0, math.sqrt(length / REFERENCE_LENGTH)))
    return Tolerance(base.atol * scale, base.rtol, base.max_rel_l2)
